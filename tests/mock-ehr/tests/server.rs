//! The mock over real sockets on 127.0.0.1: FHIR reads and searches, the
//! token endpoint's checks, faults, the request log and notifications.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mock_ehr::{
    AuthSeen, Fault, MockEhr, Notification, Payload, WebhookSink, keys, send_notification,
};
use p384::ecdsa::signature::Signer as _;
use p384::pkcs8::DecodePrivateKey as _;
use serde_json::{Value, json};

fn client() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .max_redirects(0)
            .build(),
    )
}

/// GETs `url` with an optional bearer token; returns status, headers and JSON.
fn get(url: &str, token: Option<&str>) -> (u16, Option<String>, Value) {
    let mut request = client().get(url);
    if let Some(token) = token {
        request = request.header("authorization", &format!("Bearer {token}"));
    }
    let mut response = request.call().expect("the mock answers");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let text = response.body_mut().read_to_string().unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, retry_after, json)
}

/// Signs an ES384 client assertion with the given claims, independently of
/// the egress crate's signer.
fn assertion(key: &keys::TestKeyPair, claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "ES384", "typ": "JWT"}).to_string());
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{claims}");
    let signer = p384::ecdsa::SigningKey::from_pkcs8_pem(&key.private_pem).unwrap();
    let signature: p384::ecdsa::Signature = signer.sign(signing_input.as_bytes());
    format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    )
}

fn claims(ehr: &MockEhr, client_id: &str, exp_in: i64, jti: &str) -> Value {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    json!({
        "iss": client_id,
        "sub": client_id,
        "aud": ehr.token_url(),
        "exp": now + exp_in,
        "jti": jti
    })
}

/// POSTs a token request; returns status and JSON.
fn request_token(ehr: &MockEhr, assertion: &str) -> (u16, Value) {
    let form = format!(
        "grant_type=client_credentials&scope=system%2F*.read&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={assertion}"
    );
    let mut response = client()
        .post(&ehr.token_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .send(form.as_bytes())
        .expect("the mock answers");
    let status = response.status().as_u16();
    let json = serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
    (status, json)
}

fn registered() -> (MockEhr, keys::TestKeyPair) {
    let ehr = MockEhr::start();
    let key = keys::p384_key_pair();
    ehr.register_client("c1", &key, None);
    (ehr, key)
}

#[test]
fn valid_assertion_gets_token() {
    let (ehr, key) = registered();
    ehr.set_token_lifetime(Duration::from_secs(120));

    let (status, body) = request_token(&ehr, &assertion(&key, &claims(&ehr, "c1", 240, "j1")));

    assert_eq!(status, 200);
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 120);
    assert_eq!(body["scope"], "system/*.read");
}

#[test]
fn issued_token_opens_fhir() {
    let (ehr, key) = registered();
    ehr.put(json!({"resourceType": "Patient", "id": "p1"}));
    let (_, body) = request_token(&ehr, &assertion(&key, &claims(&ehr, "c1", 240, "j1")));
    let token = body["access_token"].as_str().unwrap();

    let (status, _, patient) = get(&format!("{}/Patient/p1", ehr.base_url()), Some(token));

    assert_eq!(status, 200);
    assert_eq!(patient["id"], "p1");
    assert_eq!(ehr.requests().last().unwrap().auth, AuthSeen::Valid);
}

#[test]
fn expired_assertion_refused() {
    let (ehr, key) = registered();

    let (status, body) = request_token(&ehr, &assertion(&key, &claims(&ehr, "c1", -10, "j1")));

    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
}

#[test]
fn far_future_exp_refused() {
    let (ehr, key) = registered();

    let (status, body) = request_token(&ehr, &assertion(&key, &claims(&ehr, "c1", 600, "j1")));

    assert_eq!(status, 401);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("five minutes")
    );
}

#[test]
fn wrong_audience_refused() {
    let (ehr, key) = registered();
    let mut claims = claims(&ehr, "c1", 240, "j1");
    claims["aud"] = json!("https://elsewhere.example/token");

    let (status, body) = request_token(&ehr, &assertion(&key, &claims));

    assert_eq!(status, 401);
    assert!(body["error_description"].as_str().unwrap().contains("aud"));
}

#[test]
fn wrong_signature_refused() {
    let (ehr, _) = registered();
    let other = keys::p384_key_pair();

    let (status, body) = request_token(&ehr, &assertion(&other, &claims(&ehr, "c1", 240, "j1")));

    assert_eq!(status, 401);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("signature")
    );
}

#[test]
fn sub_must_equal_iss() {
    let (ehr, key) = registered();
    let mut claims = claims(&ehr, "c1", 240, "j1");
    claims["sub"] = json!("someone-else");

    let (status, _) = request_token(&ehr, &assertion(&key, &claims));

    assert_eq!(status, 401);
}

#[test]
fn replayed_jti_refused() {
    let (ehr, key) = registered();
    let jwt = assertion(&key, &claims(&ehr, "c1", 240, "same"));

    let (first, _) = request_token(&ehr, &jwt);
    let (second, body) = request_token(&ehr, &jwt);

    assert_eq!(first, 200);
    assert_eq!(second, 401);
    assert!(body["error_description"].as_str().unwrap().contains("jti"));
}

#[test]
fn unknown_client_refused() {
    let (ehr, key) = registered();

    let (status, _) = request_token(&ehr, &assertion(&key, &claims(&ehr, "nobody", 240, "j1")));

    assert_eq!(status, 401);
}

#[test]
fn fhir_needs_token() {
    let ehr = MockEhr::start();
    ehr.put(json!({"resourceType": "Patient", "id": "p1"}));

    let (status, _, body) = get(&format!("{}/Patient/p1", ehr.base_url()), None);

    assert_eq!(status, 401);
    assert_eq!(body["resourceType"], "OperationOutcome");
    assert_eq!(ehr.requests()[0].auth, AuthSeen::Missing);
}

#[test]
fn expired_token_refused() {
    let ehr = MockEhr::start();
    ehr.put(json!({"resourceType": "Patient", "id": "p1"}));
    let token = ehr.issue_token();
    ehr.advance_clock(Duration::from_secs(301));

    let (status, _, _) = get(&format!("{}/Patient/p1", ehr.base_url()), Some(&token));

    assert_eq!(status, 401);
    assert_eq!(ehr.requests()[0].auth, AuthSeen::Expired);
}

#[test]
fn metadata_open_without_token() {
    let ehr = MockEhr::start();

    let (status, _, body) = get(&format!("{}/metadata", ehr.base_url()), None);

    assert_eq!(status, 200);
    assert_eq!(body["fhirVersion"], "4.0.1");
}

#[test]
fn smart_configuration_names_token_endpoint() {
    let ehr = MockEhr::start();

    let (status, _, body) = get(
        &format!("{}/.well-known/smart-configuration", ehr.base_url()),
        None,
    );

    assert_eq!(status, 200);
    assert_eq!(body["token_endpoint"], ehr.token_url());
}

#[test]
fn search_pages_through_next_links() {
    let ehr = MockEhr::start();
    ehr.set_require_auth(false);
    let start = ehr.now();
    for minute in 0..5 {
        ehr.put_at(
            json!({"resourceType": "Encounter", "id": format!("e{minute}")}),
            start + chrono::Duration::minutes(minute),
        );
    }
    let since = mock_ehr_instant(start + chrono::Duration::minutes(1));
    let mut url = format!(
        "{}/Encounter?_lastUpdated=ge{since}&_count=2&_sort=_lastUpdated",
        ehr.base_url()
    );
    let mut ids = Vec::new();

    loop {
        let (status, _, bundle) = get(&url, None);
        assert_eq!(status, 200);
        assert_eq!(bundle["type"], "searchset");
        for entry in bundle["entry"].as_array().unwrap() {
            ids.push(entry["resource"]["id"].as_str().unwrap().to_string());
        }
        let next = bundle["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == "next");
        match next {
            Some(link) => url = link["url"].as_str().unwrap().to_string(),
            None => break,
        }
    }

    assert_eq!(ids, vec!["e1", "e2", "e3", "e4"]);
}

fn mock_ehr_instant(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[test]
fn versions_and_last_updated_maintained() {
    let ehr = MockEhr::start();
    ehr.set_require_auth(false);
    ehr.put(json!({"resourceType": "Task", "id": "t1", "status": "requested"}));
    ehr.advance_clock(Duration::from_secs(60));
    let later = ehr.now();

    let stored = ehr.put(json!({"resourceType": "Task", "id": "t1", "status": "completed"}));

    assert_eq!(stored["meta"]["versionId"], "2");
    assert_eq!(stored["meta"]["lastUpdated"], mock_ehr_instant(later));
}

#[test]
fn deleted_resource_is_gone() {
    let ehr = MockEhr::start();
    ehr.set_require_auth(false);
    ehr.put(json!({"resourceType": "Task", "id": "t1"}));
    ehr.delete("Task", "t1");

    let (status, _, _) = get(&format!("{}/Task/t1", ehr.base_url()), None);

    assert_eq!(status, 410);
}

#[test]
fn page_fails_once_then_serves() {
    let ehr = MockEhr::start();
    ehr.set_require_auth(false);
    for id in ["a", "b", "c"] {
        ehr.put(json!({"resourceType": "Observation", "id": id}));
    }
    ehr.inject(Fault::status(500).on_page(2));
    let (_, _, first) = get(&format!("{}/Observation?_count=2", ehr.base_url()), None);
    let next = first["link"][1]["url"].as_str().unwrap().to_string();

    let (failed, _, _) = get(&next, None);
    let (served, _, second) = get(&next, None);

    assert_eq!(failed, 500);
    assert_eq!(served, 200);
    assert_eq!(second["entry"][0]["resource"]["id"], "c");
}

#[test]
fn expired_pages_not_found() {
    let ehr = MockEhr::start();
    ehr.set_require_auth(false);
    for id in ["a", "b", "c"] {
        ehr.put(json!({"resourceType": "Observation", "id": id}));
    }
    let (_, _, first) = get(&format!("{}/Observation?_count=2", ehr.base_url()), None);
    let next = first["link"][1]["url"].as_str().unwrap().to_string();
    ehr.expire_pages();

    let (status, _, _) = get(&next, None);

    assert_eq!(status, 404);
}

#[test]
fn too_many_requests_fault_counts_down() {
    let ehr = MockEhr::start();
    ehr.set_require_auth(false);
    ehr.put(json!({"resourceType": "Patient", "id": "p1"}));
    ehr.inject(Fault::too_many_requests(3).times(2));
    let url = format!("{}/Patient/p1", ehr.base_url());

    let statuses: Vec<(u16, Option<String>)> = (0..3)
        .map(|_| {
            let (status, retry_after, _) = get(&url, None);
            (status, retry_after)
        })
        .collect();

    assert_eq!(
        statuses,
        vec![
            (429, Some("3".to_string())),
            (429, Some("3".to_string())),
            (200, None)
        ]
    );
}

#[test]
fn operation_outcome_fault() {
    let ehr = MockEhr::start();
    ehr.set_require_auth(false);
    ehr.inject(Fault::operation_outcome(
        422,
        "business-rule",
        "status transition not allowed",
    ));

    let (status, _, body) = get(&format!("{}/Task/t1", ehr.base_url()), None);

    assert_eq!(status, 422);
    assert_eq!(body["issue"][0]["code"], "business-rule");
    assert_eq!(
        body["issue"][0]["diagnostics"],
        "status transition not allowed"
    );
}

#[test]
fn request_log_hides_token() {
    let ehr = MockEhr::start();
    let token = ehr.issue_token();

    get(
        &format!("{}/Patient?_count=1", ehr.base_url()),
        Some(&token),
    );

    let logged = ehr.requests();
    let printed = format!("{logged:?}");
    assert_eq!(logged[0].path, "/fhir/Patient");
    assert_eq!(logged[0].query.as_deref(), Some("_count=1"));
    assert!(
        logged[0]
            .header_names
            .contains(&"authorization".to_string())
    );
    assert!(!printed.contains(&token), "{printed}");
}

#[test]
fn notification_arrives_signed() {
    let ehr = MockEhr::start();
    let sink = WebhookSink::start();
    let task = ehr.put(json!({"resourceType": "Task", "id": "t1", "status": "requested"}));
    let notification =
        Notification::event(&ehr.base_url(), "sub-1", vec![task], Payload::FullResource);

    let status = send_notification(
        &sink.url("/hooks/north/fhir"),
        b"shared-secret",
        &notification,
    )
    .unwrap();

    let received = sink.received();
    let signature = received[0].header("x-switchboard-signature").unwrap();
    let bundle: Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(status, 200);
    assert_eq!(received[0].path, "/hooks/north/fhir");
    assert_eq!(
        received[0].header("content-type"),
        Some("application/fhir+json")
    );
    assert_eq!(
        switchboard_egress::webhook::verify(b"shared-secret", &received[0].body, signature),
        Ok(())
    );
    assert_eq!(bundle["entry"][1]["resource"]["id"], "t1");
}

#[test]
fn id_only_notification_omits_resource() {
    let ehr = MockEhr::start();
    let sink = WebhookSink::start();
    let task = ehr.put(json!({"resourceType": "Task", "id": "t1"}));
    let notification = Notification::event(&ehr.base_url(), "sub-1", vec![task], Payload::IdOnly);

    send_notification(&sink.url("/hook"), b"k", &notification).unwrap();

    let bundle: Value = serde_json::from_slice(&sink.received()[0].body).unwrap();
    assert_eq!(
        bundle["entry"][1]["fullUrl"],
        format!("{}/Task/t1", ehr.base_url())
    );
    assert!(bundle["entry"][1].get("resource").is_none());
}

#[test]
fn rsa_client_verified() {
    let ehr = MockEhr::start();
    let key = keys::shared_rsa_key_pair();
    ehr.register_client("rsa-client", key, Some("kid-1"));
    let header =
        URL_SAFE_NO_PAD.encode(json!({"alg": "RS384", "typ": "JWT", "kid": "kid-1"}).to_string());
    let body = URL_SAFE_NO_PAD.encode(claims(&ehr, "rsa-client", 240, "r1").to_string());
    let signing_input = format!("{header}.{body}");
    let private =
        <rsa::PrivateKey as rsa::pkcs8::DecodePrivateKey>::from_pkcs8_pem(&key.private_pem)
            .unwrap();
    let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha384>::new(private);
    let signature = rsa::signature::SignatureEncoding::to_vec(&rsa::signature::Signer::sign(
        &signer,
        signing_input.as_bytes(),
    ));
    let jwt = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature));

    let (status, _) = request_token(&ehr, &jwt);

    assert_eq!(status, 200);
}
