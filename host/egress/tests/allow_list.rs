//! The allow-list and address rules, against a real server on 127.0.0.1.

mod common;

use common::*;
use mock_ehr::Fault;
use serde_json::json;
use switchboard_egress::{Egress, EgressError};

#[test]
fn allowed_host_works() {
    let s = setup();
    s.ehr.set_require_auth(false);
    s.ehr.put(json!({"resourceType": "Patient", "id": "p1"}));
    let egress = Egress::new(config(&s.ehr), s.shared.clone()).unwrap();

    let response = egress.send(get(&s.ehr, "/Patient/p1")).unwrap();

    let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(body["id"], "p1");
    assert_eq!(
        response.header("content-type"),
        Some("application/fhir+json")
    );
}

#[test]
fn unlisted_host_denied() {
    let s = setup();
    let mut config = config(&s.ehr);
    config.http_hosts = vec!["ehr.example.com".to_string()];
    let egress = Egress::new(config, s.shared.clone()).unwrap();

    let error = egress.send(get(&s.ehr, "/Patient/p1")).unwrap_err();

    assert!(
        matches!(&error, EgressError::Denied(m) if m.contains("not in the plugin's http_hosts")),
        "{error:?}"
    );
    assert_eq!(s.ehr.requests().len(), 0);
}

#[test]
fn unlisted_port_denied() {
    let s = setup();
    let mut config = config(&s.ehr);
    config.http_hosts = vec![format!("127.0.0.1:{}", s.ehr.port() + 1)];
    let egress = Egress::new(config, s.shared.clone()).unwrap();

    let error = egress.send(get(&s.ehr, "/Patient/p1")).unwrap_err();

    assert!(matches!(error, EgressError::Denied(_)), "{error:?}");
    assert_eq!(s.ehr.requests().len(), 0);
}

#[test]
fn error_names_origin_not_path() {
    let s = setup();
    let mut config = config(&s.ehr);
    config.http_hosts = vec![];
    let egress = Egress::new(config, s.shared.clone()).unwrap();

    let error = egress
        .send(get(&s.ehr, "/Patient/secret-id-42?name=x"))
        .unwrap_err();

    let message = error.to_string();
    assert!(
        message.contains(&format!("http://127.0.0.1:{}", s.ehr.port())),
        "{message}"
    );
    assert!(!message.contains("secret-id-42"), "{message}");
}

#[test]
fn redirect_to_unlisted_host_denied() {
    let s = setup();
    s.ehr.set_require_auth(false);
    let elsewhere = format!("http://localhost:{}/fhir/Patient/p1", s.ehr.port());
    s.ehr.inject(Fault::redirect(&elsewhere));
    let egress = Egress::new(config(&s.ehr), s.shared.clone()).unwrap();

    let error = egress.send(get(&s.ehr, "/Patient/p1")).unwrap_err();

    assert!(
        matches!(&error, EgressError::Denied(m) if m.contains("redirect")),
        "{error:?}"
    );
    assert_eq!(s.ehr.requests().len(), 1);
}

#[test]
fn redirect_within_list_followed() {
    let s = setup();
    s.ehr.set_require_auth(false);
    s.ehr.put(json!({"resourceType": "Patient", "id": "p2"}));
    s.ehr.inject(Fault::redirect("/fhir/Patient/p2"));
    let egress = Egress::new(config(&s.ehr), s.shared.clone()).unwrap();

    let response = egress.send(get(&s.ehr, "/Patient/p1")).unwrap();

    let paths: Vec<String> = s.ehr.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(response.status, 200);
    assert_eq!(paths, vec!["/fhir/Patient/p1", "/fhir/Patient/p2"]);
}

#[test]
fn redirect_loop_stops() {
    let s = setup();
    s.ehr.set_require_auth(false);
    s.ehr.inject(Fault::redirect("/fhir/Patient/p1").times(100));
    let egress = Egress::new(config(&s.ehr), s.shared.clone()).unwrap();

    let error = egress.send(get(&s.ehr, "/Patient/p1")).unwrap_err();

    assert!(
        matches!(&error, EgressError::Transport(m) if m.contains("redirected more than 5")),
        "{error:?}"
    );
    assert_eq!(s.ehr.requests().len(), 6);
}

#[test]
fn name_resolving_to_loopback_denied() {
    let s = setup_with(resolving_to_loopback("ehr.test"));
    let mut config = config(&s.ehr);
    config.http_hosts = vec![format!("ehr.test:{}", s.ehr.port())];
    let egress = Egress::new(config, s.shared.clone()).unwrap();
    let request = switchboard_egress::EgressRequest::get(
        SITE,
        PLUGIN,
        &format!("https://ehr.test:{}/fhir/Patient/p1", s.ehr.port()),
    );

    let error = egress.send(request).unwrap_err();

    assert!(
        matches!(&error, EgressError::Denied(m) if m.contains("127.0.0.1") && m.contains("loopback")),
        "{error:?}"
    );
    assert_eq!(s.ehr.requests().len(), 0);
}

#[test]
fn listed_ip_lets_name_reach_loopback() {
    // The mock speaks plain HTTP, so the TLS handshake fails: that failure
    // shows the address check passed and a connection was made.
    let s = setup_with(resolving_to_loopback("ehr.test"));
    let mut config = config(&s.ehr);
    config.http_hosts = vec![
        format!("ehr.test:{}", s.ehr.port()),
        "127.0.0.1".to_string(),
    ];
    let egress = Egress::new(config, s.shared.clone()).unwrap();
    let request = switchboard_egress::EgressRequest::get(
        SITE,
        PLUGIN,
        &format!("https://ehr.test:{}/fhir/Patient/p1", s.ehr.port()),
    );

    let error = egress.send(request).unwrap_err();

    assert!(matches!(error, EgressError::Transport(_)), "{error:?}");
}

#[test]
fn localhost_listed_literally_works() {
    let s = setup_with(resolving_to_loopback("localhost"));
    s.ehr.set_require_auth(false);
    s.ehr.put(json!({"resourceType": "Patient", "id": "p1"}));
    let mut config = config(&s.ehr);
    config.http_hosts = vec![format!("localhost:{}", s.ehr.port())];
    let egress = Egress::new(config, s.shared.clone()).unwrap();
    let request = switchboard_egress::EgressRequest::get(
        SITE,
        PLUGIN,
        &format!("http://localhost:{}/fhir/Patient/p1", s.ehr.port()),
    );

    let response = egress.send(request).unwrap();

    assert_eq!(response.status, 200);
}

#[test]
fn plain_http_to_name_denied() {
    let s = setup_with(resolving_to_loopback("ehr.test"));
    let mut config = config(&s.ehr);
    config.http_hosts = vec![format!("ehr.test:{}", s.ehr.port())];
    let egress = Egress::new(config, s.shared.clone()).unwrap();
    let request = switchboard_egress::EgressRequest::get(
        SITE,
        PLUGIN,
        &format!("http://ehr.test:{}/fhir/Patient/p1", s.ehr.port()),
    );

    let error = egress.send(request).unwrap_err();

    assert!(
        matches!(&error, EgressError::Denied(m) if m.contains("plain http")),
        "{error:?}"
    );
}

#[test]
fn wrong_site_request_denied() {
    let s = setup();
    let egress = Egress::new(config(&s.ehr), s.shared.clone()).unwrap();
    let mut request = get(&s.ehr, "/Patient/p1");
    request.site = "southside".to_string();

    let error = egress.send(request).unwrap_err();

    assert!(matches!(error, EgressError::Denied(_)), "{error:?}");
}

#[test]
fn next_link_to_unlisted_host_denied() {
    // A server could hand out a next link to another host; the plugin's
    // request for it is checked like any other.
    let s = setup();
    s.ehr.set_require_auth(false);
    let egress = Egress::new(config(&s.ehr), s.shared.clone()).unwrap();
    let next = format!(
        "http://localhost:{}/fhir/Observation?_page=pg1",
        s.ehr.port()
    );

    let error = egress
        .send(switchboard_egress::EgressRequest::get(SITE, PLUGIN, &next))
        .unwrap_err();

    assert!(matches!(error, EgressError::Denied(_)), "{error:?}");
    assert_eq!(s.ehr.requests().len(), 0);
}
