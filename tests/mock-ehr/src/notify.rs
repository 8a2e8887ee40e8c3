//! FHIR R4 Subscription notifications in the form of the Subscriptions
//! R5 Backport IG: a `history` Bundle whose first entry is a `Parameters`
//! SubscriptionStatus, sent signed to a webhook.
//!
//! The signature header is [`SIGNATURE_HEADER`]: `sha256=<hex>` of
//! HMAC-SHA256 over the exact body bytes, made by
//! [`switchboard_egress::webhook::sign`], so the host verifies it with
//! [`switchboard_egress::webhook::verify`].

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
pub use switchboard_egress::webhook::SIGNATURE_HEADER;

use crate::store::instant;

/// Profile of the R4 SubscriptionStatus `Parameters` resource.
pub const STATUS_PROFILE: &str = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-status-r4";

/// How much of each changed resource a notification carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Payload {
    /// Only the status entry; the receiver must query.
    Empty,
    /// Status plus one entry per resource with its `fullUrl` and no
    /// `resource`.
    IdOnly,
    /// Status plus the resources themselves.
    FullResource,
}

/// Why the notification was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotificationKind {
    /// Resources changed.
    EventNotification,
    /// Nothing changed; the subscription is alive.
    Heartbeat,
    /// The subscription was just created.
    Handshake,
}

impl NotificationKind {
    fn code(self) -> &'static str {
        match self {
            NotificationKind::EventNotification => "event-notification",
            NotificationKind::Heartbeat => "heartbeat",
            NotificationKind::Handshake => "handshake",
        }
    }
}

/// The content of one notification.
#[derive(Clone, Debug)]
pub struct Notification {
    /// FHIR base of the sender, for `fullUrl`s and references.
    pub base: String,
    /// The subscription's id, such as `sub-1`.
    pub subscription_id: String,
    /// Canonical URL of the SubscriptionTopic.
    pub topic: String,
    /// Why it is sent.
    pub kind: NotificationKind,
    /// Event number of the first resource; later ones count up from it.
    pub first_event_number: u64,
    /// The changed resources (each with `resourceType` and `id`).
    pub resources: Vec<Value>,
    /// How much of them to include.
    pub payload: Payload,
    /// When the events happened.
    pub timestamp: DateTime<Utc>,
}

impl Notification {
    /// Builds an event notification about `resources` for subscription
    /// `subscription_id` of the server at `base`, numbered from 1.
    pub fn event(
        base: &str,
        subscription_id: &str,
        resources: Vec<Value>,
        payload: Payload,
    ) -> Self {
        Notification {
            base: base.to_string(),
            subscription_id: subscription_id.to_string(),
            topic: "http://hl7.org/SubscriptionTopic/switchboard-open-work".to_string(),
            kind: NotificationKind::EventNotification,
            first_event_number: 1,
            resources,
            payload,
            timestamp: Utc::now(),
        }
    }

    /// Builds the notification Bundle.
    pub fn bundle(&self) -> Value {
        let subscription = format!("{}/Subscription/{}", self.base, self.subscription_id);
        let events: Vec<Value> = self
            .resources
            .iter()
            .enumerate()
            .map(|(index, resource)| self.event_parameter(index, resource))
            .collect();
        let last_event = self.first_event_number + self.resources.len() as u64;
        let events_since_start = if self.resources.is_empty() {
            self.first_event_number.saturating_sub(1)
        } else {
            last_event - 1
        };

        let mut parameters = vec![
            json!({"name": "subscription", "valueReference": {"reference": subscription}}),
            json!({"name": "topic", "valueCanonical": self.topic}),
            json!({"name": "status", "valueCode": "active"}),
            json!({"name": "type", "valueCode": self.kind.code()}),
            json!({"name": "events-since-subscription-start", "valueString": events_since_start.to_string()}),
        ];
        parameters.extend(events);

        let mut entries = vec![json!({
            "fullUrl": format!("urn:uuid:{}", pseudo_uuid(&subscription, events_since_start)),
            "resource": {
                "resourceType": "Parameters",
                "meta": {"profile": [STATUS_PROFILE]},
                "parameter": parameters
            },
            "request": {"method": "GET", "url": format!("{subscription}/$status")},
            "response": {"status": "200"}
        })];
        if self.payload != Payload::Empty {
            entries.extend(
                self.resources
                    .iter()
                    .map(|resource| self.resource_entry(resource)),
            );
        }

        json!({
            "resourceType": "Bundle",
            "type": "history",
            "timestamp": instant(self.timestamp),
            "entry": entries
        })
    }

    fn event_parameter(&self, index: usize, resource: &Value) -> Value {
        let mut parts = vec![
            json!({"name": "event-number", "valueString": (self.first_event_number + index as u64).to_string()}),
            json!({"name": "timestamp", "valueInstant": instant(self.timestamp)}),
        ];
        if self.payload != Payload::Empty {
            parts.push(
                json!({"name": "focus", "valueReference": {"reference": self.full_url(resource)}}),
            );
        }
        json!({"name": "notification-event", "part": parts})
    }

    fn resource_entry(&self, resource: &Value) -> Value {
        let mut entry = json!({
            "fullUrl": self.full_url(resource),
            "request": {"method": "PUT", "url": relative_reference(resource)},
            "response": {"status": "200"}
        });
        if self.payload == Payload::FullResource {
            entry["resource"] = resource.clone();
        }
        entry
    }

    fn full_url(&self, resource: &Value) -> String {
        format!("{}/{}", self.base, relative_reference(resource))
    }
}

fn relative_reference(resource: &Value) -> String {
    format!(
        "{}/{}",
        resource
            .get("resourceType")
            .and_then(Value::as_str)
            .unwrap_or("Resource"),
        resource
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
    )
}

/// Derives a stable UUID-shaped id for the status entry.
fn pseudo_uuid(subscription: &str, events: u64) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(format!("{subscription}#{events}").as_bytes());
    let hex = hex::encode(&digest[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Why a notification was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The webhook URL is not on a loopback address; this helper only
    /// sends to servers a test started on this machine.
    #[error("webhook URL {0:?} is not http on 127.0.0.1, [::1] or localhost")]
    NotLoopback(String),
    /// The request failed.
    #[error("sending the notification failed: {0}")]
    Failed(String),
}

/// POSTs `body` to `url` as `application/fhir+json`, signed with `secret`
/// in [`SIGNATURE_HEADER`]. Returns the receiver's status. Blocks; from an
/// async test, call it inside `spawn_blocking`.
///
/// # Errors
///
/// [`SendError`] for a non-loopback URL or a failed request.
pub fn send_signed(url: &str, secret: &[u8], body: &[u8]) -> Result<u16, SendError> {
    if !is_loopback_http(url) {
        return Err(SendError::NotLoopback(url.to_string()));
    }
    let signature = switchboard_egress::webhook::sign(secret, body);
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .max_redirects(0)
            .build(),
    );
    let response = agent
        .post(url)
        .header("content-type", "application/fhir+json")
        .header(SIGNATURE_HEADER, &signature)
        .send(body)
        .map_err(|e| SendError::Failed(e.to_string()))?;
    Ok(response.status().as_u16())
}

/// Sends `notification` to `url`; see [`send_signed`].
///
/// # Errors
///
/// As [`send_signed`].
pub fn send_notification(
    url: &str,
    secret: &[u8],
    notification: &Notification,
) -> Result<u16, SendError> {
    let body =
        serde_json::to_vec(&notification.bundle()).map_err(|e| SendError::Failed(e.to_string()))?;
    send_signed(url, secret, &body)
}

fn is_loopback_http(url: &str) -> bool {
    let Ok(url) = url::Url::parse(url) else {
        return false;
    };
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    };
    url.scheme() == "http" && loopback
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resources() -> Vec<Value> {
        vec![
            json!({"resourceType": "DiagnosticReport", "id": "r1", "status": "final"}),
            json!({"resourceType": "Task", "id": "t1", "status": "requested"}),
        ]
    }

    #[test]
    fn full_resource_bundle_shape() {
        let notification = Notification::event(
            "http://127.0.0.1:1/fhir",
            "sub-1",
            resources(),
            Payload::FullResource,
        );

        let bundle = notification.bundle();

        assert_eq!(bundle["type"], "history");
        let status = &bundle["entry"][0]["resource"];
        assert_eq!(status["resourceType"], "Parameters");
        assert_eq!(status["parameter"][3]["valueCode"], "event-notification");
        assert_eq!(status["parameter"][4]["valueString"], "2");
        assert_eq!(
            status["parameter"][6]["part"][2]["valueReference"]["reference"],
            "http://127.0.0.1:1/fhir/Task/t1"
        );
        assert_eq!(bundle["entry"][1]["resource"]["id"], "r1");
        assert_eq!(bundle["entry"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn id_only_entries_have_no_resource() {
        let notification = Notification::event(
            "http://127.0.0.1:1/fhir",
            "sub-1",
            resources(),
            Payload::IdOnly,
        );

        let bundle = notification.bundle();

        assert_eq!(
            bundle["entry"][1]["fullUrl"],
            "http://127.0.0.1:1/fhir/DiagnosticReport/r1"
        );
        assert!(bundle["entry"][1].get("resource").is_none());
    }

    #[test]
    fn empty_payload_has_status_only() {
        let notification = Notification::event(
            "http://127.0.0.1:1/fhir",
            "sub-1",
            resources(),
            Payload::Empty,
        );

        let bundle = notification.bundle();

        assert_eq!(bundle["entry"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn non_loopback_url_refused() {
        let result = send_signed("http://192.0.2.10/hook", b"k", b"{}");

        assert!(matches!(result, Err(SendError::NotLoopback(_))));
    }
}
