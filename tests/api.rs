//! The HTTP API's error contract, against an in-process host with the
//! sample roster served on loopback. Unknown sites, roles and people are
//! 404 after the token's 403 check. Every error body, including the ones
//! axum's extractors and router produce, is problem details naming what to
//! fix.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use switchboard::app::{App, AppOptions};
use switchboard_tests::HostFolder;

/// Host-wide admin token.
const ADMIN: &str = "api-test-admin-token";
/// Admin token bound to northside.
const NORTH_ADMIN: &str = "api-test-north-admin-token";
/// Staff token of ma-ana at northside.
const ANA: &str = "api-test-ana-token";
/// Staff token of ma-ana at southside.
const SOUTH: &str = "api-test-south-token";

/// `api.max_body_kib` of the test host, small so a 413 is cheap to cause.
const MAX_BODY_KIB: usize = 4;

const ROUTING: &str = "
[routing]
plugin = \"table-policy\"
config = \"northside/routing.toml\"
";

/// A host serving its API on loopback. Dropping it stops the host and
/// removes its folder. Each test starts its own, so no state leaks between
/// tests.
struct Host {
    runtime: Option<tokio::runtime::Runtime>,
    app: Arc<App>,
    folder: Option<HostFolder>,
    base: String,
}

impl Drop for Host {
    fn drop(&mut self) {
        drop(self.runtime.take());
        self.app.shutdown();
        drop(self.folder.take());
    }
}

fn host() -> Host {
    let folder = HostFolder::new(
        &[
            (ADMIN, "admin", None, None, "admin"),
            (NORTH_ADMIN, "north-admin", Some("northside"), None, "admin"),
            (ANA, "ana", Some("northside"), Some("ma-ana"), "staff"),
            (SOUTH, "south", Some("southside"), Some("ma-ana"), "staff"),
        ],
        &[("northside", ROUTING), ("southside", ROUTING)],
    );
    let host_file = folder.path().join("switchboard.toml");
    let text = std::fs::read_to_string(&host_file).expect("host file");
    let text = text.replacen(
        "[api]\n",
        &format!("[api]\nmax_body_kib = {MAX_BODY_KIB}\n"),
        1,
    );
    std::fs::write(&host_file, text).expect("host file written");

    let options = AppOptions {
        watch: false,
        background: false,
        ..AppOptions::default()
    };
    let app = App::open(folder.path(), options).expect("the host opens");
    app.load_sites();
    assert!(
        app.sites.get("northside").is_some() && app.sites.get("southside").is_some(),
        "sites did not load: {:?}",
        app.sites.failures()
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("a loopback port");
    let address = listener.local_addr().expect("a bound address");
    let router = switchboard::api::router(app.clone());
    runtime.spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            eprintln!("the test API stopped: {error}");
        }
    });
    Host {
        runtime: Some(runtime),
        app,
        folder: Some(folder),
        base: format!("http://{address}"),
    }
}

/// A response: status, content type and body (JSON when it parses).
#[derive(Debug)]
struct Reply {
    status: u16,
    content_type: String,
    body: Value,
}

impl Reply {
    /// Checks that the body is problem details whose `status` matches the
    /// response and whose title is set, and returns its detail.
    fn detail(&self) -> String {
        assert_eq!(
            self.content_type, "application/problem+json",
            "content type of {self:?}"
        );
        assert_eq!(self.body["status"], self.status, "status field of {self:?}");
        assert!(
            self.body["title"].as_str().is_some_and(|t| !t.is_empty()),
            "title of {self:?}"
        );
        self.body["detail"]
            .as_str()
            .unwrap_or_else(|| panic!("no detail in {self:?}"))
            .to_string()
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn reply(mut response: ureq::http::Response<ureq::Body>) -> Reply {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    Reply {
        status,
        content_type,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
    }
}

fn get(host: &Host, token: &str, path: &str) -> Reply {
    let response = agent()
        .get(format!("{}{path}", host.base))
        .header("authorization", &format!("Bearer {token}"))
        .call()
        .expect("request sent");
    reply(response)
}

fn post(host: &Host, token: &str, path: &str, content_type: Option<&str>, body: &[u8]) -> Reply {
    let mut request = agent()
        .post(format!("{}{path}", host.base))
        .header("authorization", &format!("Bearer {token}"));
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    reply(request.send(body).expect("request sent"))
}

const BACKLOG_RANGES: &str = "baseline=2026-03-02..2026-03-06&pilot=2026-03-09..2026-03-13";

#[test]
fn unknown_site_is_404_for_admin() {
    let host = host();
    let paths = [
        "/v1/sites/nowhere/shadow".to_string(),
        "/v1/sites/nowhere/dead-letters".to_string(),
        "/v1/sites/nowhere/audit".to_string(),
        "/v1/sites/nowhere/plugins".to_string(),
        format!("/v1/sites/nowhere/backlog?{BACKLOG_RANGES}"),
        "/v1/sites/nowhere/worklists/roles/ma".to_string(),
        "/v1/sites/nowhere/worklists/people/ma-ana".to_string(),
        "/v1/sites/nowhere/fhir/Task?owner=ma-ana".to_string(),
    ];

    for path in paths {
        let reply = get(&host, ADMIN, &path);

        assert_eq!(reply.status, 404, "{path}: {reply:?}");
        assert!(reply.detail().contains("\"nowhere\""), "{path}: {reply:?}");
    }
}

#[test]
fn unknown_site_writes_are_404() {
    let host = host();
    let paths = [
        "/v1/sites/nowhere/shadow/promote",
        "/v1/sites/nowhere/plugins/routing/rollback",
        "/v1/sites/nowhere/dead-letters/retry",
    ];

    for path in paths {
        let reply = post(&host, ADMIN, path, None, b"");

        assert_eq!(reply.status, 404, "{path}: {reply:?}");
        assert!(reply.detail().contains("\"nowhere\""), "{path}: {reply:?}");
    }
}

#[test]
fn known_site_reads_are_200() {
    let host = host();
    let paths = [
        "/v1/sites/northside/shadow",
        "/v1/sites/northside/dead-letters",
        "/v1/sites/northside/audit",
    ];

    for path in paths {
        let reply = get(&host, ADMIN, path);

        assert_eq!(reply.status, 200, "{path}: {reply:?}");
    }
}

#[test]
fn other_site_token_gets_403_before_404() {
    let host = host();
    let cases = [
        (SOUTH, "/v1/sites/nowhere/worklists/roles/ma"),
        (SOUTH, "/v1/sites/northside/worklists/roles/astronaut"),
        (SOUTH, "/v1/sites/northside/worklists/people/nobody"),
        (NORTH_ADMIN, "/v1/sites/nowhere/audit"),
        (NORTH_ADMIN, "/v1/sites/nowhere/shadow"),
        (NORTH_ADMIN, "/v1/sites/southside/dead-letters"),
    ];

    for (token, path) in cases {
        let reply = get(&host, token, path);

        assert_eq!(reply.status, 403, "{path}: {reply:?}");
        reply.detail();
    }
}

#[test]
fn unknown_role_is_404() {
    let host = host();

    let reply = get(&host, ANA, "/v1/sites/northside/worklists/roles/astronaut");

    assert_eq!(reply.status, 404, "{reply:?}");
    let detail = reply.detail();
    assert!(detail.contains("role \"astronaut\""), "{detail}");
    assert!(detail.contains("ma"), "lists the site's roles: {detail}");
}

#[test]
fn unknown_person_is_404() {
    let host = host();

    let reply = get(&host, ANA, "/v1/sites/northside/worklists/people/nobody");

    assert_eq!(reply.status, 404, "{reply:?}");
    assert!(reply.detail().contains("person \"nobody\""), "{reply:?}");
}

#[test]
fn known_role_and_person_are_200() {
    let host = host();

    let role = get(&host, ANA, "/v1/sites/northside/worklists/roles/ma");
    let person = get(&host, ANA, "/v1/sites/northside/worklists/people/ma-ana");

    assert_eq!(role.status, 200, "{role:?}");
    assert_eq!(person.status, 200, "{person:?}");
}

#[test]
fn missing_query_parameter_is_problem() {
    let host = host();

    let reply = get(
        &host,
        ADMIN,
        "/v1/sites/northside/backlog?pilot=2026-03-09..2026-03-13",
    );

    assert_eq!(reply.status, 400, "{reply:?}");
    let detail = reply.detail();
    assert!(detail.contains("missing field `baseline`"), "{detail}");
    assert!(detail.contains("add it"), "{detail}");
}

#[test]
fn invalid_query_value_names_parameter() {
    let host = host();

    let reply = get(
        &host,
        ANA,
        "/v1/sites/northside/worklists/roles/ma?limit=abc",
    );

    assert_eq!(reply.status, 400, "{reply:?}");
    assert!(
        reply
            .detail()
            .starts_with("query parameter `limit` is invalid"),
        "{reply:?}"
    );
}

#[test]
fn unknown_query_parameter_is_problem() {
    let host = host();

    let reply = get(&host, ANA, "/v1/sites/northside/worklists/roles/ma?limt=5");

    assert_eq!(reply.status, 400, "{reply:?}");
    assert!(reply.detail().contains("unknown field `limt`"), "{reply:?}");
}

#[test]
fn page_size_out_of_range_is_400() {
    let host = host();
    let cases = [
        (
            ANA,
            "/v1/sites/northside/worklists/roles/ma?limit=0",
            "use 1 to 200",
        ),
        (
            ANA,
            "/v1/sites/northside/worklists/people/ma-ana?limit=201",
            "use 1 to 200",
        ),
        (
            ANA,
            "/v1/sites/northside/fhir/Task?owner=ma-ana&_count=0",
            "use 1 to 200",
        ),
        (
            ADMIN,
            "/v1/sites/northside/audit?limit=1001",
            "use 1 to 1000",
        ),
    ];

    for (token, path, range) in cases {
        let reply = get(&host, token, path);

        assert_eq!(reply.status, 400, "{path}: {reply:?}");
        assert!(reply.detail().contains(range), "{path}: {reply:?}");
    }
}

#[test]
fn invalid_path_parameter_is_problem() {
    let host = host();

    let reply = get(&host, ANA, "/v1/sites/northside/items/abc");

    assert_eq!(reply.status, 400, "{reply:?}");
    let detail = reply.detail();
    assert!(detail.contains("`id`"), "{detail}");
    assert!(detail.contains("\"abc\""), "{detail}");
}

#[test]
fn malformed_json_is_400() {
    let host = host();

    let reply = post(
        &host,
        ANA,
        "/v1/sites/northside/items/1/reassign",
        Some("application/json"),
        b"{\"role\": ",
    );

    assert_eq!(reply.status, 400, "{reply:?}");
    assert!(reply.detail().contains("not valid JSON"), "{reply:?}");
}

#[test]
fn unknown_json_field_is_422() {
    let host = host();

    let reply = post(
        &host,
        ANA,
        "/v1/sites/northside/items/1/reassign",
        Some("application/json"),
        br#"{"role": "rn", "reason": "coverage", "colour": "red"}"#,
    );

    assert_eq!(reply.status, 422, "{reply:?}");
    let detail = reply.detail();
    assert!(detail.contains("unknown field `colour`"), "{detail}");
    assert!(detail.contains("correct its spelling"), "{detail}");
}

#[test]
fn missing_json_field_is_422() {
    let host = host();

    let reply = post(
        &host,
        ANA,
        "/v1/sites/northside/items/1/cancel",
        Some("application/json"),
        b"{}",
    );

    assert_eq!(reply.status, 422, "{reply:?}");
    assert!(
        reply.detail().contains("missing field `reason`"),
        "{reply:?}"
    );
}

#[test]
fn wrong_content_type_is_415() {
    let host = host();

    let reply = post(
        &host,
        ANA,
        "/v1/sites/northside/items/1/cancel",
        Some("text/plain"),
        br#"{"reason": "duplicate"}"#,
    );

    assert_eq!(reply.status, 415, "{reply:?}");
    assert!(
        reply.detail().contains("Content-Type: application/json"),
        "{reply:?}"
    );
}

#[test]
fn retry_body_without_content_type_is_415() {
    let host = host();

    let reply = post(
        &host,
        ADMIN,
        "/v1/sites/northside/dead-letters/retry",
        None,
        br#"{"items": [1]}"#,
    );

    assert_eq!(reply.status, 415, "{reply:?}");
    reply.detail();
}

#[test]
fn retry_without_body_is_200() {
    let host = host();

    let reply = post(
        &host,
        ADMIN,
        "/v1/sites/northside/dead-letters/retry",
        None,
        b"",
    );

    assert_eq!(reply.status, 200, "{reply:?}");
}

#[test]
fn oversized_body_is_413() {
    let host = host();
    let body = format!(
        r#"{{"role": "rn", "reason": "{}"}}"#,
        "x".repeat(MAX_BODY_KIB * 1024)
    );

    let reply = post(
        &host,
        ANA,
        "/v1/sites/northside/items/1/reassign",
        Some("application/json"),
        body.as_bytes(),
    );

    assert_eq!(reply.status, 413, "{reply:?}");
    let detail = reply.detail();
    assert!(detail.contains(&format!("{MAX_BODY_KIB} KiB")), "{detail}");
    assert!(detail.contains("api.max_body_kib"), "{detail}");
}

#[test]
fn wrong_method_is_405_problem() {
    let host = host();
    let response = agent()
        .delete(format!("{}/v1/sites", host.base))
        .header("authorization", &format!("Bearer {ADMIN}"))
        .call()
        .expect("request sent");
    let allow = response
        .headers()
        .get("allow")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();

    let reply = reply(response);

    assert_eq!(reply.status, 405, "{reply:?}");
    assert!(allow.contains("GET"), "Allow header kept: {allow:?}");
    assert!(
        reply.detail().contains("DELETE is not allowed"),
        "{reply:?}"
    );
}

#[test]
fn unknown_route_is_404_problem() {
    let host = host();

    let reply = get(&host, ADMIN, "/v1/nothing-here");

    assert_eq!(reply.status, 404, "{reply:?}");
    reply.detail();
}
