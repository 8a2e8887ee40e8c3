//! Credentials: static tokens, SMART Backend Services tokens, caching,
//! refresh, and keeping secrets out of messages.

mod common;

use std::time::Duration;

use common::*;
use mock_ehr::{AuthSeen, MockEhr, keys};
use serde_json::json;
use switchboard_egress::{
    Algorithm, ConfigError, Credential, Egress, EgressConfig, EgressError, Secret, SmartBackend,
};

fn smart_config(ehr: &MockEhr, key: &keys::TestKeyPair, key_id: Option<&str>) -> EgressConfig {
    let mut config = config(ehr);
    config.credential_names = vec!["ehr".to_string()];
    config.credentials.insert(
        "ehr".to_string(),
        Credential::SmartBackend(SmartBackend {
            token_url: ehr.token_url(),
            client_id: "switchboard-north".to_string(),
            private_key_pem: Secret::new(key.private_pem.clone()),
            algorithm: key.algorithm,
            key_id: key_id.map(str::to_string),
            scope: Some("system/*.read".to_string()),
        }),
    );
    config
}

fn patient(ehr: &MockEhr) {
    ehr.put(json!({"resourceType": "Patient", "id": "p1"}));
}

#[test]
fn static_token_attached() {
    let s = setup();
    patient(&s.ehr);
    let egress = Egress::new(config_with_static_token(&s.ehr), s.shared.clone()).unwrap();

    let response = egress
        .send(get(&s.ehr, "/Patient/p1").with_credential("ehr"))
        .unwrap();

    assert_eq!(response.status, 200);
    assert_eq!(s.ehr.requests()[0].auth, AuthSeen::Valid);
}

#[test]
fn plugin_authorization_header_dropped() {
    let s = setup();
    patient(&s.ehr);
    let egress = Egress::new(config_with_static_token(&s.ehr), s.shared.clone()).unwrap();
    let request = get(&s.ehr, "/Patient/p1")
        .with_credential("ehr")
        .with_header("Authorization", "Bearer made-up-by-plugin");

    let response = egress.send(request).unwrap();

    // Two Authorization headers would make the mock judge the request
    // invalid, so Valid shows only the host's token arrived.
    assert_eq!(response.status, 200);
    assert_eq!(s.ehr.requests()[0].auth, AuthSeen::Valid);
}

#[test]
fn plugin_header_dropped_without_credential() {
    let s = setup();
    patient(&s.ehr);
    let egress = Egress::new(config(&s.ehr), s.shared.clone()).unwrap();
    let token = s.ehr.issue_token();
    let request =
        get(&s.ehr, "/Patient/p1").with_header("authorization", &format!("Bearer {token}"));

    let response = egress.send(request).unwrap();

    assert_eq!(response.status, 401);
    assert_eq!(s.ehr.requests()[0].auth, AuthSeen::Missing);
}

#[test]
fn credential_not_in_manifest_refused() {
    let s = setup();
    let mut config = config_with_static_token(&s.ehr);
    config.credential_names.clear();
    let egress = Egress::new(config, s.shared.clone()).unwrap();

    let error = egress
        .send(get(&s.ehr, "/Patient/p1").with_credential("ehr"))
        .unwrap_err();

    assert!(
        matches!(&error, EgressError::Credential(m) if m.contains("manifest does not list")),
        "{error:?}"
    );
    assert_eq!(s.ehr.requests().len(), 0);
}

#[test]
fn credential_not_configured_refused() {
    let s = setup();
    let mut config = config(&s.ehr);
    config.credential_names = vec!["billing".to_string()];
    let egress = Egress::new(config, s.shared.clone()).unwrap();

    let error = egress
        .send(get(&s.ehr, "/Patient/p1").with_credential("billing"))
        .unwrap_err();

    assert!(
        matches!(&error, EgressError::Credential(m) if m.contains("[credentials.billing]")),
        "{error:?}"
    );
    assert_eq!(s.ehr.requests().len(), 0);
}

#[test]
fn es384_token_obtained_and_cached() {
    let s = setup();
    patient(&s.ehr);
    let key = keys::p384_key_pair();
    s.ehr.register_client("switchboard-north", &key, Some("k1"));
    let egress = Egress::new(smart_config(&s.ehr, &key, Some("k1")), s.shared.clone()).unwrap();

    let first = egress
        .send(get(&s.ehr, "/Patient/p1").with_credential("ehr"))
        .unwrap();
    let second = egress
        .send(get(&s.ehr, "/Patient/p1").with_credential("ehr"))
        .unwrap();

    assert_eq!((first.status, second.status), (200, 200));
    assert_eq!(s.ehr.token_requests(), 1);
    assert_eq!(s.ehr.fhir_requests(), 2);
}

#[test]
fn rs384_token_obtained() {
    let s = setup();
    patient(&s.ehr);
    let key = keys::shared_rsa_key_pair();
    s.ehr.register_client("switchboard-north", key, None);
    let egress = Egress::new(smart_config(&s.ehr, key, None), s.shared.clone()).unwrap();

    let response = egress
        .send(get(&s.ehr, "/Patient/p1").with_credential("ehr"))
        .unwrap();

    assert_eq!(response.status, 200);
    assert_eq!(s.ehr.token_requests(), 1);
}

#[test]
fn token_refreshed_before_expiry() {
    // A 5-minute token is replaced once 60 s remain, at 240 s.
    let s = setup();
    patient(&s.ehr);
    let key = keys::p384_key_pair();
    s.ehr.register_client("switchboard-north", &key, None);
    let egress = Egress::new(smart_config(&s.ehr, &key, None), s.shared.clone()).unwrap();
    egress
        .send(get(&s.ehr, "/Patient/p1").with_credential("ehr"))
        .unwrap();

    s.clock.advance(seconds(239));
    s.ehr.advance_clock(seconds(239));
    egress
        .send(get(&s.ehr, "/Patient/p1").with_credential("ehr"))
        .unwrap();
    let before_refresh = s.ehr.token_requests();
    s.clock.advance(seconds(2));
    s.ehr.advance_clock(seconds(2));
    let response = egress
        .send(get(&s.ehr, "/Patient/p1").with_credential("ehr"))
        .unwrap();

    assert_eq!(before_refresh, 1);
    assert_eq!(s.ehr.token_requests(), 2);
    assert_eq!(response.status, 200);
}

#[test]
fn token_survives_plugin_reload() {
    let s = setup();
    patient(&s.ehr);
    let key = keys::p384_key_pair();
    s.ehr.register_client("switchboard-north", &key, None);
    let first = Egress::new(smart_config(&s.ehr, &key, None), s.shared.clone()).unwrap();
    first
        .send(get(&s.ehr, "/Patient/p1").with_credential("ehr"))
        .unwrap();
    drop(first);

    let reloaded = Egress::new(smart_config(&s.ehr, &key, None), s.shared.clone()).unwrap();
    reloaded
        .send(get(&s.ehr, "/Patient/p1").with_credential("ehr"))
        .unwrap();

    assert_eq!(s.ehr.token_requests(), 1);
}

#[test]
fn unauthorized_gets_fresh_token_once() {
    let s = setup();
    patient(&s.ehr);
    let key = keys::p384_key_pair();
    s.ehr.register_client("switchboard-north", &key, None);
    let egress = Egress::new(smart_config(&s.ehr, &key, None), s.shared.clone()).unwrap();
    egress
        .send(get(&s.ehr, "/Patient/p1").with_credential("ehr"))
        .unwrap();
    s.ehr.revoke_tokens();

    let response = egress
        .send(get(&s.ehr, "/Patient/p1").with_credential("ehr"))
        .unwrap();

    let statuses: Vec<u16> = s
        .ehr
        .requests()
        .iter()
        .filter(|r| !r.is_token_request())
        .map(|r| r.status)
        .collect();
    assert_eq!(response.status, 200);
    assert_eq!(statuses, vec![200, 401, 200]);
    assert_eq!(s.ehr.token_requests(), 2);
}

#[test]
fn persistent_unauthorized_returned_after_one_refresh() {
    let s = setup();
    patient(&s.ehr);
    let key = keys::p384_key_pair();
    s.ehr.register_client("switchboard-north", &key, None);
    s.ehr.inject(mock_ehr::Fault::status(401).times(5));
    let egress = Egress::new(smart_config(&s.ehr, &key, None), s.shared.clone()).unwrap();

    let response = egress
        .send(get(&s.ehr, "/Patient/p1").with_credential("ehr"))
        .unwrap();

    assert_eq!(response.status, 401);
    assert_eq!(s.ehr.fhir_requests(), 2);
    assert_eq!(s.ehr.token_requests(), 2);
}

#[test]
fn unregistered_key_is_credential_error() {
    let s = setup();
    let registered = keys::p384_key_pair();
    let other = keys::p384_key_pair();
    s.ehr
        .register_client("switchboard-north", &registered, None);
    let egress = Egress::new(smart_config(&s.ehr, &other, None), s.shared.clone()).unwrap();

    let error = egress
        .send(get(&s.ehr, "/Patient/p1").with_credential("ehr"))
        .unwrap_err();

    let message = error.to_string();
    assert!(matches!(error, EgressError::Credential(_)), "{message}");
    assert!(message.contains("invalid_client"), "{message}");
    assert!(message.contains("\"ehr\""), "{message}");
    assert!(!message.contains("BEGIN"), "{message}");
    assert_eq!(s.ehr.fhir_requests(), 0);
}

#[test]
fn bad_key_rejected_at_build() {
    let s = setup();
    let mut key = keys::p384_key_pair();
    key.private_pem =
        "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n".to_string();

    let error = Egress::new(smart_config(&s.ehr, &key, None), s.shared.clone()).unwrap_err();

    assert!(
        matches!(&error, ConfigError::InvalidCredential { name, .. } if name == "ehr"),
        "{error:?}"
    );
    assert!(!error.to_string().contains("bm90IGEga2V5"), "{error}");
}

#[test]
fn wrong_algorithm_key_rejected_at_build() {
    let s = setup();
    let mut key = keys::p384_key_pair();
    key.algorithm = Algorithm::Rs384;

    let error = Egress::new(smart_config(&s.ehr, &key, None), s.shared.clone()).unwrap_err();

    assert!(
        matches!(error, ConfigError::InvalidCredential { .. }),
        "{error:?}"
    );
}

#[test]
fn secrets_absent_from_debug_output() {
    let s = setup();
    let key = keys::p384_key_pair();
    let static_config = config_with_static_token(&s.ehr);
    let Some(Credential::Static { token }) = static_config.credentials.get("ehr").cloned() else {
        panic!("static credential expected");
    };
    let smart = smart_config(&s.ehr, &key, None);
    let egress = Egress::new(smart.clone(), s.shared.clone()).unwrap();

    let printed = format!("{static_config:?} {smart:?} {egress:?} {:?}", s.shared);

    assert!(!printed.contains(token.expose()), "{printed}");
    assert!(!printed.contains("PRIVATE KEY"), "{printed}");
    assert!(printed.contains("[redacted]"), "{printed}");
}

#[test]
fn token_endpoint_failure_names_status() {
    let s = setup();
    let key = keys::p384_key_pair();
    s.ehr.register_client("switchboard-north", &key, None);
    s.ehr
        .inject(mock_ehr::Fault::status(503).on_token_endpoint());
    let egress = Egress::new(smart_config(&s.ehr, &key, None), s.shared.clone()).unwrap();

    let error = egress
        .send(get(&s.ehr, "/Patient/p1").with_credential("ehr"))
        .unwrap_err();

    assert!(
        matches!(&error, EgressError::Credential(m) if m.contains("HTTP 503")),
        "{error:?}"
    );
}

#[test]
fn credential_dropped_on_cross_origin_redirect() {
    // The second origin is the same server reached as localhost, listed in
    // the manifest; the token must not follow the plugin there.
    let s = setup_with(resolving_to_loopback("localhost"));
    patient(&s.ehr);
    let mut config = config_with_static_token(&s.ehr);
    config
        .http_hosts
        .push(format!("localhost:{}", s.ehr.port()));
    let location = format!("http://localhost:{}/fhir/Patient/p1", s.ehr.port());
    s.ehr.inject(mock_ehr::Fault::redirect(&location));
    let egress = Egress::new(config, s.shared.clone()).unwrap();

    let response = egress
        .send(get(&s.ehr, "/Patient/p1").with_credential("ehr"))
        .unwrap();

    let seen: Vec<AuthSeen> = s.ehr.requests().iter().map(|r| r.auth).collect();
    assert_eq!(response.status, 401);
    assert_eq!(seen, vec![AuthSeen::Valid, AuthSeen::Missing]);
}

#[test]
fn refresh_keeps_working_after_long_idle() {
    let s = setup();
    patient(&s.ehr);
    let key = keys::p384_key_pair();
    s.ehr.register_client("switchboard-north", &key, None);
    let egress = Egress::new(smart_config(&s.ehr, &key, None), s.shared.clone()).unwrap();
    egress
        .send(get(&s.ehr, "/Patient/p1").with_credential("ehr"))
        .unwrap();

    s.clock.advance(Duration::from_secs(3 * 3600));
    s.ehr.advance_clock(Duration::from_secs(3 * 3600));
    let response = egress
        .send(get(&s.ehr, "/Patient/p1").with_credential("ehr"))
        .unwrap();

    assert_eq!(response.status, 200);
    assert_eq!(s.ehr.token_requests(), 2);
}
