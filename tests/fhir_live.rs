//! The shipped FHIR connector inside the real `switchboard serve`, against
//! the mock EHR on loopback. Polls follow search pages through host egress
//! with a SMART Backend Services token, ride out 429 and 5xx responses and
//! resume from the stored cursor after a restart, and each resource lands
//! once in the store and in the worklists. Signed id-only notifications are
//! read back from the EHR and routed, and forged ones are rejected. A key
//! the EHR has not registered shows up in the log and the counters while the
//! host keeps serving.
//!
//! Expected owners follow the sample routing table
//! (`examples/config/sites/northside/routing.toml`) and roster. Critical and
//! abnormal results go to the interpreting clinician and normal results to
//! the RN pool. Refills without a PCP stay in the MA pool. Tasks go by the
//! words of their code to the referral coordinator, front desk or billing
//! pools.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use mock_ehr::keys::{TestKeyPair, p384_key_pair};
use mock_ehr::{AuthSeen, Fault, LoggedRequest, MockEhr, Notification, Payload};
use serde_json::{Value, json};
use switchboard_engine::{Item, SledStore, Store};
use switchboard_tests::{HostFolder, ServerProcess};

const ADMIN: &str = "admin-secret";
const INTAKE: &str = "intake-secret";
const METRICS: &str = "metrics-secret";

const SITE: &str = "northside";
const CONNECTOR: &str = "ehr";
const CLIENT_ID: &str = "switchboard-northside";
const KEY_ID: &str = "northside-k1";

/// Variable the site file names in `webhook_secret_env`. Every host these
/// tests start has it set to [`WEBHOOK_SECRET`].
const WEBHOOK_SECRET_ENV: &str = "FHIR_LIVE_WEBHOOK_SECRET";
const WEBHOOK_SECRET: &str = "fhir-live-shared-secret";

/// The sample site's roles. A role worklist lists every open item of its
/// pool, claimed or not, so together they list each open item once.
const ROLES: [&str; 8] = [
    "physician",
    "np",
    "rn",
    "ma",
    "front-desk",
    "billing",
    "referral-coordinator",
    "medical-director",
];

const INTERPRETATION_SYSTEM: &str =
    "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";

/// How long any one wait on the host may take before the test fails.
const WAIT_LIMIT: Duration = Duration::from_secs(30);

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_switchboard-under-test"))
}

// ---------------------------------------------------------------------------
// Host set-up
// ---------------------------------------------------------------------------

/// How the site's FHIR connector reads the mock.
struct ConnectorSetup<'a> {
    /// Poll every second; `false` leaves the connector push-only.
    poll: bool,
    /// The connector's `resource_types`, in polling order.
    resource_types: &'a [&'a str],
    /// The connector's `page_size`, sent as `_count`.
    page_size: u32,
}

/// Creates a host folder whose site `northside` reads `ehr` through the
/// shipped FHIR connector, signing its token requests with `key`.
///
/// The connector's installed manifest gets the mock's `127.0.0.1:PORT` in
/// `http_hosts`, because egress reaches loopback only when a manifest names
/// it.
fn live_folder(ehr: &MockEhr, key: &TestKeyPair, setup: &ConnectorSetup<'_>) -> HostFolder {
    let folder = HostFolder::new(
        &[
            (ADMIN, "admin", None, None, "admin"),
            (INTAKE, "intake", Some(SITE), None, "intake"),
            (METRICS, "metrics", None, None, "metrics"),
        ],
        &[(SITE, &site_plugins(ehr, setup))],
    );

    allow_in_manifest(&folder, &ehr.host_port());
    let site_dir = folder.path().join("sites").join(SITE);
    std::fs::write(site_dir.join("ehr-key.pem"), &key.private_pem).expect("key file written");
    std::fs::write(
        site_dir.join("fhir-live.toml"),
        connector_config(ehr, setup),
    )
    .expect("connector config written");
    folder
}

/// Returns the plugin part of the site file: the sample routing table, the
/// FHIR connector and its SMART Backend Services credential.
fn site_plugins(ehr: &MockEhr, setup: &ConnectorSetup<'_>) -> String {
    let poll = if setup.poll { "poll_seconds = 1\n" } else { "" };
    format!(
        r#"
[routing]
plugin = "table-policy"
config = "northside/routing.toml"

[[connectors]]
name = "{CONNECTOR}"
plugin = "fhir-connector"
config = "northside/fhir-live.toml"
{poll}webhook_secret_env = "{WEBHOOK_SECRET_ENV}"

[credentials.ehr]
kind = "smart-backend"
token_url = "{token_url}"
client_id = "{CLIENT_ID}"
key_file = "northside/ehr-key.pem"
algorithm = "ES384"
key_id = "{KEY_ID}"
scope = "system/*.read"
"#,
        token_url = ehr.token_url()
    )
}

fn connector_config(ehr: &MockEhr, setup: &ConnectorSetup<'_>) -> String {
    let types: Vec<String> = setup
        .resource_types
        .iter()
        .map(|t| format!("\"{t}\""))
        .collect();
    format!(
        "vendor = \"generic\"\nbase_url = \"{}\"\nresource_types = [{}]\npage_size = {}\n",
        ehr.base_url(),
        types.join(", "),
        setup.page_size
    )
}

/// Adds `host_port` to `http_hosts` of every installed FHIR connector version.
fn allow_in_manifest(folder: &HostFolder, host_port: &str) {
    let plugin_dir = folder.path().join("plugins/fhir-connector");
    let versions = std::fs::read_dir(&plugin_dir).expect("the FHIR connector is installed");
    for version in versions.flatten() {
        let path = version.path().join("plugin.toml");
        let text = std::fs::read_to_string(&path).expect("manifest readable");
        let mut manifest: toml_edit::DocumentMut = text.parse().expect("manifest is TOML");
        manifest["capabilities"]["http_hosts"]
            .as_array_mut()
            .expect("the manifest lists http_hosts")
            .push(host_port);
        std::fs::write(&path, manifest.to_string()).expect("manifest written");
    }
}

/// Starts `serve` with the webhook secret in its environment.
fn start(folder: &HostFolder) -> ServerProcess {
    let mut command = Command::new(binary());
    command.env(WEBHOOK_SECRET_ENV, WEBHOOK_SECRET);
    ServerProcess::start_with(command, folder)
}

/// Starts a mock EHR with the site's client and public key registered.
fn ehr_with_client(key: &TestKeyPair) -> MockEhr {
    let ehr = MockEhr::start();
    ehr.register_client(CLIENT_ID, key, Some(KEY_ID));
    ehr
}

// ---------------------------------------------------------------------------
// FHIR resources
// ---------------------------------------------------------------------------

/// Builds a lab observation flagged with an HL7 v3 interpretation `code`.
fn observation(id: &str, code: &str) -> Value {
    json!({
        "resourceType": "Observation",
        "id": id,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "2823-3", "display": "Potassium"}]},
        "subject": {"reference": "Patient/p-live"},
        "valueQuantity": {"value": 5.0, "unit": "mmol/L"},
        "interpretation": [{"coding": [{"system": INTERPRETATION_SYSTEM, "code": code}]}]
    })
}

/// Builds a final potassium report with one observation, read by
/// `interpreter` (a `Practitioner` id that the sample roster lists in
/// `ehr_ids`).
fn report(id: &str, observation: &str, interpreter: &str) -> Value {
    json!({
        "resourceType": "DiagnosticReport",
        "id": id,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "2823-3", "display": "Potassium"}]},
        "subject": {"reference": "Patient/p-live"},
        "issued": "2026-03-09T14:00:00Z",
        "resultsInterpreter": [{"reference": format!("Practitioner/{interpreter}")}],
        "result": [{"reference": format!("Observation/{observation}")}]
    })
}

/// Builds a pharmacy's renewal request: a draft proposal renewing an earlier
/// prescription of `medication`.
fn refill(id: &str, medication: &str) -> Value {
    json!({
        "resourceType": "MedicationRequest",
        "id": id,
        "status": "draft",
        "intent": "proposal",
        "medicationCodeableConcept": {"text": medication},
        "subject": {"reference": "Patient/p-live"},
        "authoredOn": "2026-03-09T14:00:00Z",
        "priorPrescription": {"reference": format!("MedicationRequest/{id}-previous")}
    })
}

/// Builds an open EHR task whose code text names the kind of work.
fn task(id: &str, code_text: &str) -> Value {
    json!({
        "resourceType": "Task",
        "id": id,
        "status": "requested",
        "intent": "order",
        "code": {"text": code_text},
        "for": {"reference": "Patient/p-live"},
        "authoredOn": "2026-03-09T14:00:00Z"
    })
}

/// What one resource should become on the worklists.
#[derive(Debug)]
struct Expected {
    external_id: &'static str,
    category: &'static str,
    flag: &'static str,
    role: &'static str,
    person: Option<&'static str>,
}

/// The seven resources [`put_seven`] stores, and their owners by the sample
/// routing table. The `critical-results` and `abnormal-results` rules pick
/// the interpreter: Practitioner/ortiz is dr-ortiz, a physician, and
/// Practitioner/shah is np-shah, an NP. `normal-results` is the RN pool.
/// `refills` picks by the PCP's pod, so with no PCP the item stays in the MA
/// pool. `referrals`, `forms` and `prior-authorizations` are pools.
const SEVEN: [Expected; 7] = [
    Expected {
        external_id: "MedicationRequest/rx-1",
        category: "refill",
        flag: "none",
        role: "ma",
        person: None,
    },
    Expected {
        external_id: "DiagnosticReport/dr-critical",
        category: "result",
        flag: "critical",
        role: "physician",
        person: Some("dr-ortiz"),
    },
    Expected {
        external_id: "DiagnosticReport/dr-abnormal",
        category: "result",
        flag: "abnormal",
        role: "np",
        person: Some("np-shah"),
    },
    Expected {
        external_id: "DiagnosticReport/dr-normal",
        category: "result",
        flag: "normal",
        role: "rn",
        person: None,
    },
    Expected {
        external_id: "Task/task-referral",
        category: "referral",
        flag: "none",
        role: "referral-coordinator",
        person: None,
    },
    Expected {
        external_id: "Task/task-form",
        category: "form",
        flag: "none",
        role: "front-desk",
        person: None,
    },
    Expected {
        external_id: "Task/task-auth",
        category: "prior-auth",
        flag: "none",
        role: "billing",
        person: None,
    },
];

/// The resource types the seven come from, in polling order.
const SEVEN_TYPES: [&str; 3] = ["MedicationRequest", "DiagnosticReport", "Task"];

/// Stores the resources behind [`SEVEN`], with the observations the reports
/// list.
fn put_seven(ehr: &MockEhr) {
    ehr.put(observation("obs-critical", "HH"));
    ehr.put(observation("obs-abnormal", "H"));
    ehr.put(observation("obs-normal", "N"));
    ehr.put(refill("rx-1", "lisinopril 10 mg"));
    ehr.put(report("dr-critical", "obs-critical", "ortiz"));
    ehr.put(report("dr-abnormal", "obs-abnormal", "shah"));
    ehr.put(report("dr-normal", "obs-normal", "lee"));
    ehr.put(task("task-referral", "Send referral to cardiology"));
    ehr.put(task("task-form", "Complete disability form"));
    ehr.put(task("task-auth", "Prior authorization for MRI"));
}

// ---------------------------------------------------------------------------
// Observing the host
// ---------------------------------------------------------------------------

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

fn get_text(folder: &HostFolder, token: &str, path: &str) -> (u16, String) {
    let mut response = agent()
        .get(&folder.url(path))
        .header("authorization", &format!("Bearer {token}"))
        .call()
        .expect("request sent");
    let status = response.status().as_u16();
    (
        status,
        response.body_mut().read_to_string().unwrap_or_default(),
    )
}

fn get_json(folder: &HostFolder, token: &str, path: &str) -> Value {
    let (status, body) = get_text(folder, token, path);
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).expect("a JSON body")
}

/// Reads every open item of the site from each role's worklist.
fn open_items(folder: &HostFolder) -> Vec<Value> {
    let mut items = Vec::new();
    for role in ROLES {
        let mut after: Option<String> = None;
        loop {
            let mut path = format!("/v1/sites/{SITE}/worklists/roles/{role}?limit=200");
            if let Some(cursor) = &after {
                path.push_str(&format!("&after={cursor}"));
            }
            let page = get_json(folder, ADMIN, &path);
            items.extend(page["items"].as_array().expect("items").iter().cloned());
            match page["next"].as_str() {
                Some(next) => after = Some(next.to_string()),
                None => break,
            }
        }
    }
    items
}

/// Groups open items by external id. More than one entry under an id is a
/// duplicate.
fn by_external_id(items: Vec<Value>) -> BTreeMap<String, Vec<Value>> {
    let mut grouped: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for item in items {
        let id = item["external_id"].as_str().unwrap_or_default().to_string();
        grouped.entry(id).or_default().push(item);
    }
    grouped
}

/// Polls `check` until it returns `Some`, and panics naming `what` after
/// [`WAIT_LIMIT`].
fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT_LIMIT;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        // Each check reads eight worklists, and each read writes an audit
        // entry, so checks are spaced wider than in the other tests.
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Waits until every id in `external_ids` is on a worklist, and returns the
/// open items by external id.
fn wait_for_items(folder: &HostFolder, external_ids: &[&str]) -> BTreeMap<String, Vec<Value>> {
    wait_for("the items to be routed", || {
        let items = by_external_id(open_items(folder));
        external_ids
            .iter()
            .all(|id| items.contains_key(*id))
            .then_some(items)
    })
}

/// Checks that each expected item is open exactly once with its category,
/// flag and owner.
fn assert_routed_once(items: &BTreeMap<String, Vec<Value>>, expected: &[Expected]) {
    for want in expected {
        let found = items
            .get(want.external_id)
            .unwrap_or_else(|| panic!("{} is not on any worklist", want.external_id));
        assert_eq!(
            found.len(),
            1,
            "{} appears {} times",
            want.external_id,
            found.len()
        );
        let item = &found[0];
        assert_eq!(item["category"], want.category, "{item}");
        assert_eq!(item["flag"], want.flag, "{item}");
        assert_eq!(item["owner"]["role"], want.role, "{item}");
        assert_eq!(item["owner"]["person"].as_str(), want.person, "{item}");
    }
}

/// Reads the site's stored items and the connector's cursor from the store
/// of a stopped host.
fn stored(folder: &HostFolder) -> (Vec<Item>, Option<String>) {
    let store = SledStore::open(folder.path().join("data/db")).expect("the store opens");
    let items = store.items(SITE, None, 1000).expect("items readable");
    let cursor = store.cursor(SITE, CONNECTOR).expect("cursor readable");
    (items, cursor)
}

/// Counts stored items by external id.
fn stored_counts(items: &[Item]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for item in items {
        *counts.entry(item.source.external_id.clone()).or_insert(0) += 1;
    }
    counts
}

/// Requests to FHIR paths, in order.
fn fhir_log(ehr: &MockEhr) -> Vec<LoggedRequest> {
    ehr.requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/fhir"))
        .collect()
}

/// Describes a request by its shape, so a request sequence can be compared:
/// `"/fhir/Type search"` for the first page of a search, `"/fhir/Type next"`
/// for a next link and `"/fhir/Type/id read"` for a read.
fn shape(request: &LoggedRequest) -> String {
    let kind = match &request.query {
        Some(query) if query.starts_with("_page=") => "next",
        Some(_) => "search",
        None => "read",
    };
    format!("{} {kind}", request.path)
}

fn milliseconds(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[test]
fn poll_pages_route_each_item_once() {
    let key = p384_key_pair();
    let ehr = ehr_with_client(&key);
    put_seven(&ehr);
    let folder = live_folder(
        &ehr,
        &key,
        &ConnectorSetup {
            poll: true,
            resource_types: &SEVEN_TYPES,
            page_size: 1,
        },
    );
    let server = start(&folder);

    let ids: Vec<&str> = SEVEN.iter().map(|e| e.external_id).collect();
    let items = wait_for_items(&folder, &ids);
    // Let the poller finish another full pass, which re-reads the overlap
    // window and so offers every resource a second time.
    let first_pass = fhir_log(&ehr).len();
    wait_for("a second poll pass", || {
        (fhir_log(&ehr).len() >= 2 * first_pass).then_some(())
    });
    let after_second_pass = by_external_id(open_items(&folder));
    assert_eq!(server.terminate().code(), Some(0));

    assert_routed_once(&items, &SEVEN);
    assert_routed_once(&after_second_pass, &SEVEN);
    assert_eq!(after_second_pass.len(), 7, "{:?}", after_second_pass.keys());
    let critical = &items["DiagnosticReport/dr-critical"][0];
    assert_eq!(critical["priority"], "stat", "critical-results sets stat");
    // One page per resource: MedicationRequest 1, DiagnosticReport 3, Task 3.
    let shapes: Vec<String> = fhir_log(&ehr).iter().take(7).map(shape).collect();
    assert_eq!(
        shapes,
        [
            "/fhir/MedicationRequest search",
            "/fhir/DiagnosticReport search",
            "/fhir/DiagnosticReport next",
            "/fhir/DiagnosticReport next",
            "/fhir/Task search",
            "/fhir/Task next",
            "/fhir/Task next",
        ]
    );
    assert!(
        fhir_log(&ehr)[0]
            .query
            .as_deref()
            .is_some_and(|q| q.contains("_count=1")),
        "the search asks for page_size"
    );
    let (stored_items, _) = stored(&folder);
    let counts = stored_counts(&stored_items);
    assert_eq!(counts.len(), 7, "{counts:?}");
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
}

#[test]
fn token_refreshes_once_after_expiry() {
    let key = p384_key_pair();
    let ehr = ehr_with_client(&key);
    // Egress renews a 120 s token after 60 s of its own clock, longer than
    // this test runs, so only the mock's clock running ahead expires it.
    ehr.set_token_lifetime(Duration::from_secs(120));
    ehr.put(task("task-referral", "Send referral to cardiology"));
    let folder = live_folder(
        &ehr,
        &key,
        &ConnectorSetup {
            poll: true,
            resource_types: &["Task"],
            page_size: 10,
        },
    );
    let server = start(&folder);
    wait_for_items(&folder, &["Task/task-referral"]);
    let tokens_before = ehr.token_requests();

    // 150 s on: the token has expired at the EHR, while a fresh assertion
    // (valid for 240 s from the host's clock) is still in date there.
    ehr.advance_clock(Duration::from_secs(150));
    ehr.put(task("task-form", "Complete disability form"));
    let items = wait_for_items(&folder, &["Task/task-referral", "Task/task-form"]);
    let tokens_after = ehr.token_requests();
    drop(server);

    assert_eq!(tokens_before, 1, "one token serves the first polls");
    assert_eq!(tokens_after, 2, "the expired token is replaced once");
    let expired: Vec<LoggedRequest> = fhir_log(&ehr)
        .into_iter()
        .filter(|r| r.auth == AuthSeen::Expired)
        .collect();
    assert_eq!(expired.len(), 1, "{expired:?}");
    assert_eq!(expired[0].status, 401);
    assert!(
        fhir_log(&ehr)
            .iter()
            .all(|r| r.auth == AuthSeen::Valid || r.auth == AuthSeen::Expired),
        "every FHIR request carried a token the mock issued"
    );
    assert!(
        ehr.requests()
            .iter()
            .filter(|r| r.is_token_request())
            .all(|r| r.status == 200),
        "the mock verified every signed assertion"
    );
    assert_eq!(items.len(), 2, "{:?}", items.keys());
}

#[test]
fn faults_mid_poll_lose_nothing() {
    let key = p384_key_pair();
    let ehr = ehr_with_client(&key);
    put_seven(&ehr);
    // Page 2 of the first multi-page search (DiagnosticReport) gets one 429.
    // Page 3 gets 500 on each of the four attempts the egress makes within
    // one poll call, so that call fails and the poller tries again on its
    // next round.
    ehr.inject(Fault::too_many_requests(1).on_page(2));
    ehr.inject(Fault::status(500).on_page(3).times(4));
    let folder = live_folder(
        &ehr,
        &key,
        &ConnectorSetup {
            poll: true,
            resource_types: &SEVEN_TYPES,
            page_size: 1,
        },
    );
    let server = start(&folder);

    let ids: Vec<&str> = SEVEN.iter().map(|e| e.external_id).collect();
    let items = wait_for_items(&folder, &ids);
    let log = server.log_text();
    assert_eq!(server.terminate().code(), Some(0));

    assert_routed_once(&items, &SEVEN);
    let requests = fhir_log(&ehr);
    let first: Vec<(String, u16)> = requests
        .iter()
        .take(12)
        .map(|r| (shape(r), r.status))
        .collect();
    let expected: Vec<(String, u16)> = [
        ("/fhir/MedicationRequest search", 200),
        ("/fhir/DiagnosticReport search", 200),
        ("/fhir/DiagnosticReport next", 429),
        ("/fhir/DiagnosticReport next", 200),
        ("/fhir/DiagnosticReport next", 500),
        ("/fhir/DiagnosticReport next", 500),
        ("/fhir/DiagnosticReport next", 500),
        ("/fhir/DiagnosticReport next", 500),
        ("/fhir/DiagnosticReport next", 200),
        ("/fhir/Task search", 200),
        ("/fhir/Task next", 200),
        ("/fhir/Task next", 200),
    ]
    .into_iter()
    .map(|(shape, status)| (shape.to_string(), status))
    .collect();
    assert_eq!(first, expected);
    assert_eq!(
        requests[2].query, requests[3].query,
        "the 429 retry asks for the same page"
    );
    for retry in &requests[5..9] {
        assert_eq!(
            retry.query, requests[4].query,
            "the poll resumes at the failed page, not at the start of the search"
        );
    }
    assert_ne!(requests[4].query, requests[3].query);
    assert_eq!(
        log.matches("poll failed").count(),
        1,
        "one poll call failed: {log}"
    );
    let (stored_items, _) = stored(&folder);
    let counts = stored_counts(&stored_items);
    assert_eq!(counts.len(), 7, "{counts:?}");
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
}

#[test]
fn long_retry_after_holds_later_polls() {
    let key = p384_key_pair();
    let ehr = ehr_with_client(&key);
    ehr.put(task("task-1", "Send referral to cardiology"));
    ehr.put(task("task-2", "Complete disability form"));
    // 120 s is longer than the connector's 60 s call deadline, so egress
    // cannot wait inside one call. The poller's next rounds, one a second,
    // must not ask again before then.
    ehr.inject(Fault::too_many_requests(120).on_page(2).times(1000));
    let folder = live_folder(
        &ehr,
        &key,
        &ConnectorSetup {
            poll: true,
            resource_types: &["Task"],
            page_size: 1,
        },
    );
    let server = start(&folder);

    wait_for("three failed polls", || {
        (server.log_text().matches("poll failed").count() >= 3).then_some(())
    });
    let log = server.log_text();
    let items = by_external_id(open_items(&folder));
    drop(server);

    let next_pages: Vec<u16> = fhir_log(&ehr)
        .iter()
        .filter(|r| shape(r) == "/fhir/Task next")
        .map(|r| r.status)
        .collect();
    assert_eq!(
        next_pages,
        [429],
        "the EHR is asked once, then left alone until its Retry-After time"
    );
    let later_failures: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("poll failed"))
        .skip(1)
        .collect();
    assert!(
        later_failures
            .iter()
            .all(|line| line.contains("Retry-After")),
        "later failures name the Retry-After hold: {later_failures:?}"
    );
    assert!(items.contains_key("Task/task-1"), "page 1 was stored");
    assert!(!items.contains_key("Task/task-2"));
}

#[test]
fn restart_resumes_from_stored_cursor() {
    let key = p384_key_pair();
    let ehr = ehr_with_client(&key);
    // Whole seconds, so the mock's millisecond `lastUpdated` texts and the
    // cursor's milliseconds equal the instants `at` returns.
    let base =
        DateTime::<Utc>::from_timestamp(ehr.now().timestamp() - 30 * 60, 0).expect("a valid time");
    let at = |seconds: i64| base + chrono::Duration::seconds(seconds);
    ehr.put_at(refill("rx-1", "lisinopril 10 mg"), at(1));
    ehr.put_at(refill("rx-2", "metformin 500 mg"), at(2));
    for n in 1..=5 {
        ehr.put_at(
            task(&format!("task-{n}"), "Complete disability form"),
            at(2 + n),
        );
    }
    // The Task search has three pages of two. The third fails until the test
    // clears the fault, so the first run stops inside the Task pass.
    ehr.inject(
        Fault::operation_outcome(400, "processing", "injected failure")
            .on_page(3)
            .times(1000),
    );
    let folder = live_folder(
        &ehr,
        &key,
        &ConnectorSetup {
            poll: true,
            resource_types: &["MedicationRequest", "Task"],
            page_size: 2,
        },
    );

    let server = start(&folder);
    let first_ids = [
        "MedicationRequest/rx-1",
        "MedicationRequest/rx-2",
        "Task/task-1",
        "Task/task-2",
        "Task/task-3",
        "Task/task-4",
    ];
    wait_for_items(&folder, &first_ids);
    let failed_page = wait_for("the third Task page to fail", || {
        fhir_log(&ehr)
            .into_iter()
            .find(|r| r.path == "/fhir/Task" && r.status == 400)
    });
    assert_eq!(server.terminate().code(), Some(0));
    let (items_at_stop, cursor_at_stop) = stored(&folder);

    // While the host is down: a resource stamped exactly at the stored
    // high-water mark, a newer version of one already read, and a new one.
    ehr.clear_faults();
    ehr.clear_requests();
    ehr.put_at(refill("rx-3", "atorvastatin 20 mg"), at(2));
    ehr.put_at(refill("rx-1", "lisinopril 20 mg"), at(20));
    ehr.put_at(task("task-6", "Complete disability form"), at(21));
    let server = start(&folder);
    let all_ids = [
        "MedicationRequest/rx-1",
        "MedicationRequest/rx-2",
        "MedicationRequest/rx-3",
        "Task/task-1",
        "Task/task-2",
        "Task/task-3",
        "Task/task-4",
        "Task/task-5",
        "Task/task-6",
    ];
    let items = wait_for("every item, with rx-1 at version 2", || {
        let items = by_external_id(open_items(&folder));
        let complete = all_ids.iter().all(|id| items.contains_key(*id));
        (complete && items["MedicationRequest/rx-1"][0]["version"] == 2).then_some(items)
    });
    assert_eq!(server.terminate().code(), Some(0));
    let (items_at_end, cursor_at_end) = stored(&folder);

    assert_eq!(
        items_at_stop.len(),
        6,
        "{:?}",
        stored_counts(&items_at_stop)
    );
    let cursor: Value =
        serde_json::from_str(&cursor_at_stop.expect("a stored cursor")).expect("cursor is JSON");
    assert_eq!(
        cursor["high_water"]["MedicationRequest"],
        milliseconds(at(2)),
        "the finished MedicationRequest pass stored its latest lastUpdated"
    );
    assert_eq!(cursor["pass"]["resource_type"], "Task");
    let failed_query = failed_page.query.expect("a next link has a query");
    assert_eq!(
        cursor["pass"]["next"],
        format!("{}/Task?{failed_query}", ehr.base_url())
    );
    let resumed = &fhir_log(&ehr)[0];
    assert_eq!(resumed.path, "/fhir/Task", "{resumed:?}");
    assert_eq!(resumed.query.as_deref(), Some(failed_query.as_str()));
    assert_eq!(resumed.status, 200);

    assert_eq!(items.len(), 9, "{:?}", items.keys());
    for id in all_ids {
        assert_eq!(items[id].len(), 1, "{id} appears {} times", items[id].len());
    }
    let rx1 = &items["MedicationRequest/rx-1"][0];
    assert_eq!(rx1["title"], "lisinopril 20 mg");
    assert_eq!(rx1["owner"]["role"], "ma", "an update keeps the owner");
    let counts = stored_counts(&items_at_end);
    assert_eq!(counts.len(), 9, "{counts:?}");
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
    let stored_rx1 = items_at_end
        .iter()
        .find(|i| i.source.external_id == "MedicationRequest/rx-1")
        .expect("rx-1 stored");
    assert_eq!(stored_rx1.source.version, 2);
    let cursor: Value =
        serde_json::from_str(&cursor_at_end.expect("a stored cursor")).expect("cursor is JSON");
    assert_eq!(
        cursor["high_water"]["MedicationRequest"],
        milliseconds(at(20))
    );
    assert_eq!(cursor["high_water"]["Task"], milliseconds(at(21)));
}

#[test]
fn signed_notification_is_read_and_routed() {
    let key = p384_key_pair();
    let ehr = ehr_with_client(&key);
    ehr.put(observation("obs-push", "HH"));
    ehr.put(observation("obs-forged", "HH"));
    let pushed = ehr.put(report("dr-push", "obs-push", "ortiz"));
    let forged = ehr.put(report("dr-forged", "obs-forged", "ortiz"));
    let folder = live_folder(
        &ehr,
        &key,
        &ConnectorSetup {
            poll: false,
            resource_types: &["DiagnosticReport"],
            page_size: 10,
        },
    );
    let server = start(&folder);
    let url = folder.url(&format!(
        "/v1/sites/{SITE}/connectors/{CONNECTOR}/notifications"
    ));
    let notification = |resource: &Value| {
        Notification::event(
            &ehr.base_url(),
            "sub-1",
            vec![resource.clone()],
            Payload::IdOnly,
        )
    };

    let wrong_secret =
        mock_ehr::send_notification(&url, b"not-the-site-secret", &notification(&forged))
            .expect("sent");
    let unsigned = agent()
        .post(&url)
        .header("content-type", "application/fhir+json")
        .send(notification(&forged).bundle().to_string())
        .expect("sent")
        .status()
        .as_u16();
    let signed =
        mock_ehr::send_notification(&url, WEBHOOK_SECRET.as_bytes(), &notification(&pushed))
            .expect("sent");
    let items = wait_for_items(&folder, &["DiagnosticReport/dr-push"]);
    let inbox = folder.path().join("data/inbox/northside/ehr");
    let done = wait_for("the notification to be filed as done", || {
        let files = files_under(&inbox);
        (!files.is_empty() && files.iter().all(|f| f.starts_with(inbox.join("done"))))
            .then_some(files)
    });
    drop(server);

    assert_eq!(wrong_secret, 401);
    assert_eq!(unsigned, 401);
    assert_eq!(signed, 202);
    assert_routed_once(
        &items,
        &[Expected {
            external_id: "DiagnosticReport/dr-push",
            category: "result",
            flag: "critical",
            role: "physician",
            person: Some("dr-ortiz"),
        }],
    );
    assert_eq!(items.len(), 1, "the forged notification stored nothing");
    assert_eq!(
        done.len(),
        1,
        "only the signed notification was spooled: {done:?}"
    );
    let reads: Vec<String> = fhir_log(&ehr)
        .iter()
        .map(|r| format!("{} {}", r.path, r.status))
        .collect();
    assert_eq!(
        reads,
        [
            "/fhir/DiagnosticReport/dr-push 200",
            "/fhir/Observation/obs-push 200"
        ],
        "the id-only notification is read back, the forged one never"
    );
    assert_eq!(ehr.token_requests(), 1);
}

#[test]
fn unknown_key_is_reported_and_host_serves() {
    let registered = p384_key_pair();
    let other = p384_key_pair();
    let ehr = ehr_with_client(&registered);
    ehr.put(task("task-auth", "Prior authorization for MRI"));
    let folder = live_folder(
        &ehr,
        &other,
        &ConnectorSetup {
            poll: true,
            resource_types: &["Task"],
            page_size: 10,
        },
    );
    let server = start(&folder);

    let failure = wait_for("a failed poll in the log", || {
        server
            .log_text()
            .lines()
            .find(|line| line.contains("poll failed"))
            .map(str::to_string)
    });
    let (_, metrics) = get_text(&folder, METRICS, "/metrics");
    let (health_status, health) = get_text(&folder, ADMIN, "/healthz");
    let intake = agent()
        .post(&folder.url(&format!("/v1/sites/{SITE}/connectors/{CONNECTOR}/messages")))
        .header("authorization", &format!("Bearer {INTAKE}"))
        .header("content-type", "application/fhir+json")
        .send(task("task-pushed", "Send referral to cardiology").to_string())
        .expect("sent")
        .status()
        .as_u16();
    let items = wait_for_items(&folder, &["Task/task-pushed"]);
    let log = server.log_text();
    drop(server);

    assert!(failure.contains("invalid_client"), "{failure}");
    assert!(failure.contains(SITE), "{failure}");
    assert!(
        failure.contains("check the client id, key and key id"),
        "the line names the fix: {failure}"
    );
    assert!(
        warnings_counted(&metrics) >= 1,
        "the failure is counted: {metrics}"
    );
    assert_eq!(health_status, 200);
    assert!(health.contains("\"status\":\"ok\""), "{health}");
    assert_eq!(intake, 200);
    assert!(
        !items.contains_key("Task/task-auth"),
        "nothing was read without a token"
    );
    assert_eq!(ehr.fhir_requests(), 0, "no FHIR request went out untokened");
    assert!(ehr.token_requests() >= 1);
    assert!(
        ehr.requests()
            .iter()
            .filter(|r| r.is_token_request())
            .all(|r| r.status == 401),
        "the mock rejected every assertion"
    );
    assert!(
        !log.contains("PRIVATE KEY"),
        "the key never reaches the log"
    );
}

/// Reads `switchboard_log_warnings_total` from a `/metrics` text.
fn warnings_counted(metrics: &str) -> u64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("switchboard_log_warnings_total "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0)
}

/// Lists the regular files under `dir`, at any depth.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}
