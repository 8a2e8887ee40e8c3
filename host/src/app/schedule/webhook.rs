//! Webhook deliveries of nudges and critical-result alerts.
//!
//! A site that sets `nudge_webhook` receives one JSON `POST` per nudge and
//! per critical-result alert. Bodies carry ids and a console link only,
//! never a patient reference, name, birth date or note text:
//!
//! ```json
//! {"event": "nudge", "site": "northside", "item": 42, "level": "warning",
//!  "role": "physician", "person": "dr-lee", "link": "/console/sites/northside/items/42"}
//! {"event": "critical-fallback", "site": "northside", "item": 43, "cause": "unclaimed",
//!  "role": "physician", "person": "dr-lee", "link": "/console/sites/northside/items/43"}
//! ```
//!
//! `person` is `null` for a nudge to a role pool. `cause` is `routing-failed`
//! or `unclaimed`.
//!
//! One worker thread per process posts the bodies in the order they were
//! queued, so a slow receiver never holds up the scheduler. Delivery is
//! best effort: the nudge or alert is already stored, logged and on the
//! worklist, and a failed post is logged and counted, not retried.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::{Value, json};
use switchboard_engine::ItemId;
use switchboard_sdk::Nudge;

use crate::app::Stats;

/// Maximum number of posts waiting for the worker. At the timeout below, a
/// receiver that accepts connections and never responds takes under 90
/// minutes to drain a full queue. Posts queued meanwhile are dropped and
/// counted.
const QUEUE_LENGTH: usize = 1024;

/// Time allowed for one post, connection included.
const POST_TIMEOUT: Duration = Duration::from_secs(5);

/// The cause of sending a critical result to the site's fallback owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertCause {
    /// The routing policy failed for it, so it became a dead letter.
    RoutingFailed,
    /// It stayed unclaimed in a pool past its due time.
    Unclaimed,
}

impl AlertCause {
    /// Returns the code used in webhook bodies and log fields.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertCause::RoutingFailed => "routing-failed",
            AlertCause::Unclaimed => "unclaimed",
        }
    }
}

/// Builds the webhook body of a nudge.
pub fn nudge_body(site: &str, nudge: &Nudge) -> Value {
    json!({
        "event": "nudge",
        "site": site,
        "item": nudge.key,
        "level": nudge.level.as_str(),
        "role": nudge.role,
        "person": nudge.person,
        "link": item_link(site, ItemId(nudge.key)),
    })
}

/// Builds the webhook body of a critical-result alert: the item is now
/// owned by `person` in `role`.
pub fn alert_body(site: &str, item: ItemId, cause: AlertCause, role: &str, person: &str) -> Value {
    json!({
        "event": "critical-fallback",
        "site": site,
        "item": item.0,
        "cause": cause.as_str(),
        "role": role,
        "person": person,
        "link": item_link(site, item),
    })
}

fn item_link(site: &str, item: ItemId) -> String {
    format!("/console/sites/{site}/items/{item}")
}

/// One queued post.
struct Delivery {
    url: String,
    site: String,
    item: u64,
    body: Value,
    stats: Arc<Stats>,
}

/// Queues `body` for `url` without blocking (`try_send`). When the queue is
/// full or the worker could not start, the post is dropped with a warning.
pub fn send(stats: &Arc<Stats>, url: &str, site: &str, item: u64, body: Value) {
    let delivery = Delivery {
        url: url.to_string(),
        site: site.to_string(),
        item,
        body,
        stats: stats.clone(),
    };
    let Some(sender) = worker() else {
        stats.warnings.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            site,
            item,
            "webhook worker is not running; the post is dropped and the nudge or alert stays on the worklist"
        );
        return;
    };
    match sender.try_send(delivery) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => {
            stats.warnings.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                site,
                item,
                queued = QUEUE_LENGTH,
                "webhook queue is full, so the receiver is slow or down; the post is dropped and the nudge or alert stays on the worklist"
            );
        }
        Err(TrySendError::Disconnected(_)) => {
            stats.warnings.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                site,
                item,
                "webhook worker stopped; the post is dropped and the nudge or alert stays on the worklist"
            );
        }
    }
}

/// Returns the queue of the process's webhook worker, starting the worker
/// on first use; `None` when its thread could not be started.
fn worker() -> Option<&'static SyncSender<Delivery>> {
    static SENDER: OnceLock<Option<SyncSender<Delivery>>> = OnceLock::new();
    SENDER
        .get_or_init(|| {
            let (sender, receiver) = sync_channel(QUEUE_LENGTH);
            let started = std::thread::Builder::new()
                .name("switchboard-webhooks".into())
                .spawn(move || deliver_all(receiver));
            match started {
                Ok(_) => Some(sender),
                Err(error) => {
                    tracing::error!(%error, "failed to start the webhook worker; nudges and alerts are not posted to webhooks");
                    None
                }
            }
        })
        .as_ref()
}

fn deliver_all(receiver: Receiver<Delivery>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(POST_TIMEOUT))
        .build()
        .into();
    for delivery in receiver {
        if let Err(error) = agent.post(&delivery.url).send_json(&delivery.body) {
            delivery.stats.warnings.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                site = %delivery.site,
                item = delivery.item,
                %error,
                "webhook post failed; the nudge or alert stays on the worklist"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_sdk::NudgeLevel;

    fn keys(body: &Value) -> Vec<&str> {
        let mut keys: Vec<&str> = body
            .as_object()
            .expect("a JSON object")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        keys
    }

    #[test]
    fn nudge_body_has_ids_and_link() {
        let nudge = Nudge {
            key: 42,
            level: NudgeLevel::Warning,
            role: "physician".into(),
            person: Some("dr-lee".into()),
            message: "chart for item 42 reached its 24 h closure deadline".into(),
        };

        let body = nudge_body("northside", &nudge);

        assert_eq!(
            keys(&body),
            ["event", "item", "level", "link", "person", "role", "site"]
        );
        assert_eq!(body["event"], "nudge");
        assert_eq!(body["item"], 42);
        assert_eq!(body["level"], "warning");
        assert_eq!(body["person"], "dr-lee");
        assert_eq!(body["link"], "/console/sites/northside/items/42");
    }

    #[test]
    fn pool_nudge_has_null_person() {
        let nudge = Nudge {
            key: 7,
            level: NudgeLevel::Escalation,
            role: "medical-director".into(),
            person: None,
            message: String::new(),
        };

        let body = nudge_body("northside", &nudge);

        assert_eq!(body["person"], Value::Null);
        assert_eq!(body["role"], "medical-director");
    }

    #[test]
    fn alert_body_names_cause() {
        let body = alert_body(
            "northside",
            ItemId(43),
            AlertCause::RoutingFailed,
            "physician",
            "dr-lee",
        );

        assert_eq!(
            keys(&body),
            ["cause", "event", "item", "link", "person", "role", "site"]
        );
        assert_eq!(body["event"], "critical-fallback");
        assert_eq!(body["cause"], "routing-failed");
        assert_eq!(body["link"], "/console/sites/northside/items/43");
    }
}
