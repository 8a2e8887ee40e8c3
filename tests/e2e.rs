//! The real `switchboard serve` on loopback, end to end: files in inbox
//! folders, HL7 v2 over MLLP and FHIR over HTTP come back as worklists with
//! the expected owners; a staff token is refused another site; an edited
//! rule file changes routing for new items; a restart keeps the report
//! consistent; and no log line or API error carries a patient's name or
//! birth date.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use switchboard_tests::{HostFolder, ServerProcess, free_port};

const ADMIN: &str = "admin-secret";
const INTAKE: &str = "intake-secret";
const ANA: &str = "ana-secret";
const SOUTH: &str = "south-secret";

/// Names and birth dates in this test's own fixtures; none may reach a log
/// line or an API error.
const PATIENT_NAME: &str = "Zebulon";
const PATIENT_BIRTH_DATE: &str = "19510407";

fn folder(mllp_port: u16) -> HostFolder {
    let northside = format!(
        "
[routing]
plugin = \"table-policy\"
config = \"northside/routing.toml\"

[[connectors]]
name = \"ehr\"
plugin = \"fhir-connector\"

[[connectors]]
name = \"lab\"
plugin = \"hl7v2-connector\"
mllp_listen = \"127.0.0.1:{mllp_port}\"
"
    );
    let southside = "
[routing]
plugin = \"table-policy\"
config = \"southside/routing.toml\"
";
    HostFolder::new(
        &[
            (ADMIN, "admin", None, None, "admin"),
            (INTAKE, "intake", Some("northside"), None, "intake"),
            (ANA, "ana", Some("northside"), Some("ma-ana"), "staff"),
            (SOUTH, "south", Some("southside"), Some("ma-ana"), "staff"),
        ],
        &[("northside", &northside), ("southside", southside)],
    )
}

fn oru(control: &str, order: &str, flag: &str) -> String {
    format!(
        "MSH|^~\\&|LAB|HOSP|SB|CLINIC|20260309140000-0500||ORU^R01|{control}|P|2.5.1\r\
PID|1||MRN-{order}^^^HOSP||{PATIENT_NAME}^TEST||{PATIENT_BIRTH_DATE}|F\r\
OBR|1|P-{order}|F-{order}^LAB|2823-3^Potassium^LN|||20260309120000-0500|||||||||1234567893^LEE^PAT\r\
OBX|1|NM|2823-3^Potassium^LN||6.9|mmol/L|3.5-5.1|{flag}|||F\r"
    )
}

const REFILL: &str = r#"{"resourceType":"MedicationRequest","id":"rx-e2e-1","meta":{"versionId":"1","lastUpdated":"2026-03-09T14:00:00Z"},"status":"draft","intent":"proposal","medicationCodeableConcept":{"text":"lisinopril 10 mg"},"subject":{"reference":"Patient/p-e2e","display":"Zebulon Test"},"authoredOn":"2026-03-09T14:00:00Z","priorPrescription":{"reference":"MedicationRequest/rx-e2e-0"}}"#;

fn get(folder: &HostFolder, token: &str, path: &str) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let mut response = agent
        .get(&folder.url(path))
        .header("authorization", &format!("Bearer {token}"))
        .call()
        .expect("request sent");
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

fn post(
    folder: &HostFolder,
    token: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let mut response = agent
        .post(&folder.url(path))
        .header("authorization", &format!("Bearer {token}"))
        .header("content-type", content_type)
        .send(body)
        .expect("request sent");
    (
        response.status().as_u16(),
        response.body_mut().read_to_string().unwrap_or_default(),
    )
}

/// Waits until `check` returns `Some`, polling the API; panics after 60 s.
fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The worklist item with `external_id` in `role`'s pool, once routed.
fn routed(folder: &HostFolder, role: &str, external_id: &str) -> Option<Value> {
    let (status, page) = get(
        folder,
        ADMIN,
        &format!("/v1/sites/northside/worklists/roles/{role}?limit=200"),
    );
    assert_eq!(status, 200, "{page}");
    page["items"]
        .as_array()?
        .iter()
        .find(|i| i["external_id"] == external_id)
        .cloned()
}

/// Connects to the MLLP listener. The listener starts once the site has
/// loaded, after the API already responds, so a refused connection is
/// retried until the deadline.
fn mllp_connect(port: u16) -> TcpStream {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(stream) => return stream,
            Err(error)
                if error.kind() == std::io::ErrorKind::ConnectionRefused
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(error) => panic!("MLLP connect to port {port}: {error}"),
        }
    }
}

fn mllp_send(port: u16, message: &str) -> String {
    let mut stream = mllp_connect(port);
    mllp_exchange(&mut stream, message)
}

/// Sends one framed message on `stream` and returns the acknowledgement,
/// or an empty string when the host closes the connection first.
fn mllp_exchange(stream: &mut TcpStream, message: &str) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let frame = [&[0x0b][..], message.as_bytes(), &[0x1c, 0x0d]].concat();
    if stream.write_all(&frame).is_err() {
        return String::new();
    }
    let mut ack = Vec::new();
    let mut byte = [0u8; 1];
    while let Ok(1) = stream.read(&mut byte) {
        if byte[0] == 0x1c {
            break;
        }
        ack.push(byte[0]);
    }
    String::from_utf8_lossy(&ack)
        .trim_start_matches('\u{b}')
        .to_string()
}

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_switchboard-under-test"))
}

#[test]
fn host_routes_every_intake_path_and_survives_restart() {
    let mllp_port = free_port();
    let folder = folder(mllp_port);
    let server = ServerProcess::start(binary(), &folder);

    // Inbox folders: a FHIR refill and an HL7 v2 result with an abnormal flag.
    let ehr_inbox = folder.path().join("data/inbox/northside/ehr");
    let lab_inbox = folder.path().join("data/inbox/northside/lab");
    std::fs::create_dir_all(&ehr_inbox).unwrap();
    std::fs::create_dir_all(&lab_inbox).unwrap();
    std::fs::write(ehr_inbox.join("refill.json"), REFILL).unwrap();
    std::fs::write(lab_inbox.join("potassium.hl7"), oru("C-1", "1001", "H")).unwrap();
    std::fs::write(lab_inbox.join("garbage.hl7"), "this is not HL7").unwrap();
    copy_shared_samples(&lab_inbox);

    // MLLP: a critical result is acknowledged with AA only once stored.
    let ack = mllp_send(mllp_port, &oru("C-2", "1002", "HH"));
    // HTTP: a FHIR Task through the synchronous message endpoint.
    let (status, body) = post(
        &folder,
        INTAKE,
        "/v1/sites/northside/connectors/ehr/messages",
        "application/fhir+json",
        switchboard_tests::fhir_task(77).as_bytes(),
    );

    assert!(ack.contains("MSA|AA|C-2"), "MLLP ack: {ack}");
    assert_eq!(status, 200, "{body}");
    let refill = wait_for("the refill to be routed", || {
        routed(&folder, "ma", "MedicationRequest/rx-e2e-1")
    });
    assert_eq!(refill["category"], "refill");
    assert!(
        refill["owner"]["reason"]
            .as_str()
            .unwrap()
            .contains("rule refills"),
        "{refill}"
    );
    let abnormal = wait_for("the abnormal result to be routed", || {
        routed(&folder, "physician", "result/LAB|F-1001")
    });
    assert_eq!(abnormal["flag"], "abnormal");
    assert_eq!(
        abnormal["owner"]["person"], "dr-lee",
        "the ordering provider's NPI resolves to dr-lee"
    );
    let critical = wait_for("the critical result to be routed", || {
        routed(&folder, "physician", "result/LAB|F-1002")
    });
    assert_eq!(critical["flag"], "critical");
    assert_eq!(critical["priority"], "stat");
    let task = wait_for("the Task to be routed", || {
        [
            "front-desk",
            "rn",
            "ma",
            "physician",
            "np",
            "billing",
            "referral-coordinator",
        ]
        .iter()
        .find_map(|role| routed(&folder, role, "Task/t77"))
    });
    assert!(
        task["owner"]["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("rule ")),
        "{task}"
    );
    wait_for("the bad file to be set aside", || {
        lab_inbox
            .join("rejected/garbage.hl7.reason.txt")
            .exists()
            .then_some(())
    });
    assert!(lab_inbox.join("done/potassium.hl7").exists());

    // A staff token works its own site and is refused the other.
    let (own, _) = get(&folder, ANA, "/v1/sites/northside/worklists/roles/ma");
    let (other, problem) = get(&folder, ANA, "/v1/sites/southside/worklists/roles/ma");
    assert_eq!(own, 200);
    assert_eq!(other, 403, "{problem}");
    assert_eq!(problem["status"], 403);

    // Editing the rule file changes routing for new items.
    let rules = folder.path().join("sites/northside/routing.toml");
    let text = std::fs::read_to_string(&rules).unwrap();
    let before = activations(&folder);
    assert!(
        text.contains("name = \"refills\""),
        "the default table has a refills rule"
    );
    edit_refill_rule(&rules);
    wait_for("the edited rules to be activated", || {
        (activations(&folder) > before).then_some(())
    });
    std::fs::write(
        ehr_inbox.join("refill-2.json"),
        REFILL.replace("rx-e2e-1", "rx-e2e-2"),
    )
    .unwrap();
    let moved = wait_for("the new refill to follow the edited rule", || {
        routed(&folder, "front-desk", "MedicationRequest/rx-e2e-2")
    });
    assert!(moved["owner"]["rule"].as_str().is_some());
    assert!(
        routed(&folder, "ma", "MedicationRequest/rx-e2e-1").is_some(),
        "items routed before the edit keep their owner"
    );

    // SIGKILL and restart: the report adds up to the same counts.
    let report_before = backlog(&folder);
    let log_before = server.log_text();
    server.kill();
    let server = ServerProcess::start(binary(), &folder);
    let report_after = backlog(&folder);
    let routed_before = items_routed(&report_before);
    assert!(
        routed_before["value"].as_f64().unwrap_or(0.0) >= 4.0,
        "the pilot range counts the routed items: {routed_before}"
    );
    assert_eq!(
        routed_before,
        items_routed(&report_after),
        "routed items counted the same after a restart"
    );
    assert!(routed(&folder, "physician", "result/LAB|F-1002").is_some());

    // No patient name or birth date in logs or API errors.
    let (_, error) = post(
        &folder,
        INTAKE,
        "/v1/sites/northside/connectors/lab/messages",
        "application/hl7-v2",
        b"MSH|broken",
    );
    let logs = format!("{log_before}{}", server.log_text());
    for secret in patient_secrets() {
        assert!(
            !logs.contains(&secret),
            "a log line contains patient data {secret:?}"
        );
        assert!(
            !error.contains(&secret),
            "an API error contains patient data {secret:?}"
        );
    }
}

/// A listener serves at most `MLLP_MAX_CONNECTIONS` connections: one more is
/// closed at once, and a slot freed by a sender is usable again.
#[test]
fn mllp_listener_caps_connections() {
    let mllp_port = free_port();
    let folder = folder(mllp_port);
    let _server = ServerProcess::start(binary(), &folder);
    let mut open_connections: Vec<TcpStream> = vec![mllp_connect(mllp_port)];
    let first_ack = mllp_exchange(&mut open_connections[0], &oru("CAP-0", "2000", "N"));
    open_connections
        .extend((1..switchboard::app::MLLP_MAX_CONNECTIONS).map(|_| mllp_connect(mllp_port)));

    let mut extra = mllp_connect(mllp_port);
    extra
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut byte = [0u8; 1];
    // Closed by the host: end of stream or a reset. A read that times out
    // means the host kept the connection open, over the cap.
    let closed = match extra.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(error) => !matches!(
            error.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    };
    open_connections.pop();
    let freed_ack = wait_for("a freed connection slot", || {
        let mut stream = mllp_connect(mllp_port);
        let ack = mllp_exchange(&mut stream, &oru("CAP-1", "2001", "N"));
        ack.contains("MSA|AA|CAP-1").then_some(ack)
    });

    assert!(first_ack.contains("MSA|AA|CAP-0"), "{first_ack}");
    assert!(closed, "the connection over the cap was served");
    assert!(freed_ack.contains("MSA|AA|CAP-1"), "{freed_ack}");
}

fn activations(folder: &HostFolder) -> usize {
    let (_, entries) = get(
        folder,
        ADMIN,
        "/v1/sites/northside/audit?action=plugin.activated&limit=1000",
    );
    entries.as_array().map_or(0, Vec::len)
}

/// The backlog comparison with the pilot range around today, when this
/// test's items were routed, and the baseline before it.
fn backlog(folder: &HostFolder) -> Value {
    let today = chrono::Utc::now().date_naive();
    let day = |offset: i64| today + chrono::Duration::days(offset);
    let path = format!(
        "/v1/sites/northside/backlog?baseline={}..{}&pilot={}..{}",
        day(-60),
        day(-8),
        day(-7),
        day(1)
    );
    let (status, body) = get(folder, ADMIN, &path);
    assert_eq!(status, 200, "{body}");
    body
}

fn items_routed(report: &Value) -> Value {
    let rows = report["rows"].as_array().expect("comparison rows");
    rows.iter()
        .find(|r| r["kpi"] == "items-routed")
        .expect("an items-routed row")["pilot"]
        .clone()
}

/// Points the `refills` rule at the front desk pool.
fn edit_refill_rule(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut doc: toml_edit::DocumentMut = text.parse().unwrap();
    let rules = doc["rule"].as_array_of_tables_mut().expect("rule tables");
    let refills = rules
        .iter_mut()
        .find(|r| r.get("name").and_then(|n| n.as_str()) == Some("refills"))
        .expect("a refills rule");
    refills["role"] = toml_edit::value("front-desk");
    refills["strategy"] = toml_edit::value("pool");
    refills.remove("pod_of");
    refills.remove("require_person");
    std::fs::write(path, doc.to_string()).unwrap();
}

/// Copies the public HL7 v2 samples into the inbox when they are present,
/// so real-world messages go through the same path.
fn copy_shared_samples(inbox: &Path) {
    let shared = switchboard_tests::workspace().join("../shared/data/hl7v2");
    let Ok(entries) = std::fs::read_dir(&shared) else {
        eprintln!(
            "note: {} is absent; only this test's own fixtures are used",
            shared.display()
        );
        return;
    };
    for entry in entries.flatten() {
        std::fs::copy(
            entry.path(),
            inbox.join(format!("shared-{}", entry.file_name().to_string_lossy())),
        )
        .unwrap();
    }
}

/// Patient names and birth dates that must not leak: this test's own, plus
/// the PID-5 family names and PID-7 dates of the shared samples.
fn patient_secrets() -> Vec<String> {
    let mut secrets = vec![PATIENT_NAME.to_string(), PATIENT_BIRTH_DATE.to_string()];
    let shared = switchboard_tests::workspace().join("../shared/data/hl7v2");
    for entry in std::fs::read_dir(&shared).into_iter().flatten().flatten() {
        let text =
            String::from_utf8_lossy(&std::fs::read(entry.path()).unwrap_or_default()).to_string();
        for line in text.split(['\r', '\n']).filter(|l| l.starts_with("PID|")) {
            let fields: Vec<&str> = line.split('|').collect();
            if let Some(family) = fields
                .get(5)
                .and_then(|f| f.split('^').next())
                .filter(|f| f.len() >= 4)
            {
                secrets.push(family.to_string());
            }
            if let Some(birth) = fields
                .get(7)
                .map(|f| f.chars().take(8).collect::<String>())
                .filter(|f| f.len() == 8)
            {
                secrets.push(birth);
            }
        }
    }
    secrets
}
