//! TLS on the real `switchboard serve`, on loopback, with certificates made
//! by each test. The API, console and webhook intake are served over HTTPS
//! only, and HL7 v2 arrives over MLLP inside TLS with client certificates.
//! Bad settings stop the host or reject a site, with messages naming the
//! setting and the fix.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use serde_json::Value;
use switchboard_tests::{HostFolder, ServerProcess, free_port};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

const ADMIN: &str = "admin-secret";
const WEBHOOK_SECRET: &str = "webhook-secret-for-tls-test";
const WEBHOOK_VARIABLE: &str = "SWITCHBOARD_TLS_TEST_WEBHOOK";

/// Deadline for anything the host does in the background.
const DEADLINE: Duration = Duration::from_secs(120);

/// A certificate and its key, as DER for clients and PEM for the host.
struct Identity {
    certificate: CertificateDer<'static>,
    certificate_pem: String,
    key_pem: String,
    key_der: Vec<u8>,
}

/// Generates a self-signed server certificate for `127.0.0.1`.
fn server_identity() -> Identity {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()])
        .expect("a self-signed certificate");
    Identity {
        certificate: certified.cert.der().clone(),
        certificate_pem: certified.cert.pem(),
        key_pem: certified.signing_key.serialize_pem(),
        key_der: certified.signing_key.serialize_der(),
    }
}

/// Generates a CA for MLLP senders and one sender certificate it issued,
/// and returns the CA's PEM and the sender.
fn sender_pki() -> (String, Identity) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Test lab senders CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key"))
        .expect("a CA certificate");

    let mut sender_params =
        CertificateParams::new(vec!["lab-sender.test".to_string()]).expect("sender parameters");
    sender_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let sender_key = KeyPair::generate().expect("sender key");
    let sender = sender_params
        .signed_by(&sender_key, &ca)
        .expect("a sender certificate");

    let identity = Identity {
        certificate: sender.der().clone(),
        certificate_pem: sender.pem(),
        key_pem: sender_key.serialize_pem(),
        key_der: sender_key.serialize_der(),
    };
    (ca.pem(), identity)
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("a parent folder")).expect("folder created");
    std::fs::write(path, text).expect("file written");
}

/// Sets `[api]` keys in the folder's `switchboard.toml`.
fn set_api(folder: &HostFolder, settings: &[(&str, &str)]) {
    let path = folder.path().join("switchboard.toml");
    let text = std::fs::read_to_string(&path).expect("host file");
    let mut document: toml_edit::DocumentMut = text.parse().expect("valid TOML");
    for (key, value) in settings {
        document["api"][*key] = toml_edit::value(*value);
    }
    std::fs::write(&path, document.to_string()).expect("host file written");
}

/// Writes the server certificate into the folder and turns on TLS for the
/// API.
fn enable_api_tls(folder: &HostFolder, server: &Identity) {
    write(
        &folder.path().join("tls/api-chain.pem"),
        &server.certificate_pem,
    );
    write(&folder.path().join("tls/api-key.pem"), &server.key_pem);
    set_api(
        folder,
        &[
            ("tls_cert", "tls/api-chain.pem"),
            ("tls_key", "tls/api-key.pem"),
        ],
    );
}

/// Starts `serve` with standard error in a file, as `ServerProcess` does,
/// and waits until `/healthz` over HTTPS reports `ok`.
fn start_tls(folder: &HostFolder, server: &Identity) -> ServerProcess {
    let log = folder.path().join("serve.log");
    let child = Command::new(env!("CARGO_BIN_EXE_switchboard-under-test"))
        .arg("serve")
        .arg("--config")
        .arg(folder.path())
        .env("SWITCHBOARD_LOG", "info")
        .env(WEBHOOK_VARIABLE, WEBHOOK_SECRET)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("serve starts");
    let process = ServerProcess { child, log };

    let agent = https_agent(&server.certificate);
    wait_for("serve to report ok over HTTPS", || {
        let (status, body) = get(&agent, &https(folder, "/healthz"), None).ok()?;
        (status == 200 && body["status"] == "ok").then_some(())
    })
    .unwrap_or_else(|| panic!("serve did not become healthy; log:\n{}", process.log_text()));
    process
}

/// Polls `check` until it returns `Some` or [`DEADLINE`] passes.
fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + DEADLINE;
    while Instant::now() < deadline {
        if let Some(value) = check() {
            return Some(value);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("timed out waiting for {what}");
    None
}

fn https(folder: &HostFolder, path: &str) -> String {
    format!("https://{}{path}", folder.address)
}

/// Builds a client that trusts only `certificate`, uses no proxy and
/// returns error statuses as responses.
fn https_agent(certificate: &CertificateDer<'static>) -> ureq::Agent {
    let root = ureq::tls::Certificate::from_der(certificate.as_ref()).to_owned();
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::new_with_certs(&[root]))
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .proxy(None)
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// Builds a client with the default web roots, which do not include the
/// test certificate.
fn public_roots_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .proxy(None)
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

fn get(agent: &ureq::Agent, url: &str, token: Option<&str>) -> Result<(u16, Value), ureq::Error> {
    let mut request = agent.get(url);
    if let Some(token) = token {
        request = request.header("authorization", &format!("Bearer {token}"));
    }
    let mut response = request.call()?;
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string()?;
    Ok((
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    ))
}

/// Returns the routed worklist item with `external_id` in `role`'s pool.
fn routed(
    agent: &ureq::Agent,
    folder: &HostFolder,
    role: &str,
    external_id: &str,
) -> Option<Value> {
    let url = https(
        folder,
        &format!("/v1/sites/northside/worklists/roles/{role}?limit=200"),
    );
    let (status, page) = get(agent, &url, Some(ADMIN)).ok()?;
    assert_eq!(status, 200, "{page}");
    page["items"]
        .as_array()?
        .iter()
        .find(|item| item["external_id"] == external_id)
        .cloned()
}

fn oru(control: &str, order: &str) -> String {
    format!(
        "MSH|^~\\&|LAB|HOSP|SB|CLINIC|20260309140000-0500||ORU^R01|{control}|P|2.5.1\r\
PID|1||MRN-{order}^^^HOSP||TEST^PATIENT||19700101|F\r\
OBR|1|P-{order}|F-{order}^LAB|2823-3^Potassium^LN|||20260309120000-0500|||||||||1234567893^LEE^PAT\r\
OBX|1|NM|2823-3^Potassium^LN||6.9|mmol/L|3.5-5.1|HH|||F\r"
    )
}

/// Sends one MLLP frame over `stream` and returns the acknowledgement, or
/// the error that ended the exchange.
fn mllp_exchange(mut stream: impl Read + Write, message: &str) -> std::io::Result<String> {
    let mut frame = vec![0x0b];
    frame.extend_from_slice(message.as_bytes());
    frame.extend_from_slice(&[0x1c, 0x0d]);
    stream.write_all(&frame)?;
    stream.flush()?;

    let mut ack = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        if stream.read(&mut byte)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("closed after {} bytes", ack.len()),
            ));
        }
        if byte[0] == 0x1c {
            break;
        }
        ack.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&ack)
        .trim_start_matches('\u{b}')
        .to_string())
}

fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("MLLP connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout set");
    stream
}

/// Builds a TLS client for MLLP that trusts `server` and presents
/// `sender` when given.
fn mllp_tls_client(server: &Identity, sender: Option<&Identity>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots
        .add(server.certificate.clone())
        .expect("server certificate as a root");
    let builder = ClientConfig::builder().with_root_certificates(roots);
    let config = match sender {
        Some(sender) => builder
            .with_client_auth_cert(
                vec![sender.certificate.clone()],
                PrivateKeyDer::Pkcs8(sender.key_der.clone().into()),
            )
            .expect("a client certificate"),
        None => builder.with_no_client_auth(),
    };
    Arc::new(config)
}

fn mllp_over_tls(port: u16, client: Arc<ClientConfig>, message: &str) -> std::io::Result<String> {
    let name = ServerName::try_from("127.0.0.1").expect("an IP server name");
    let session = ClientConnection::new(client, name).map_err(std::io::Error::other)?;
    mllp_exchange(StreamOwned::new(session, connect(port)), message)
}

/// Waits for a process that is expected to exit by itself, and returns
/// its exit status and standard error. Kills it and panics after
/// [`DEADLINE`].
fn wait_exit(mut child: Child, log: &Path) -> (std::process::ExitStatus, String) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(status) = child.try_wait().expect("process state") {
            return (status, std::fs::read_to_string(log).unwrap_or_default());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "serve kept running; log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `serve` on a folder that must make it fail.
fn serve_expecting_failure(folder: &HostFolder) -> (std::process::ExitStatus, String) {
    let log = folder.path().join("failed-serve.log");
    let child = Command::new(env!("CARGO_BIN_EXE_switchboard-under-test"))
        .arg("serve")
        .arg("--config")
        .arg(folder.path())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("serve starts");
    wait_exit(child, &log)
}

/// Creates a host folder with one admin token and no connectors.
fn plain_folder() -> HostFolder {
    HostFolder::new(
        &[(ADMIN, "admin", None, None, "admin")],
        &[("northside", "")],
    )
}

#[test]
fn https_serves_api_and_signed_webhook() {
    let server = server_identity();
    let northside = format!(
        "
[routing]
plugin = \"table-policy\"
config = \"northside/routing.toml\"

[[connectors]]
name = \"ehr\"
plugin = \"fhir-connector\"
webhook_secret_env = \"{WEBHOOK_VARIABLE}\"
"
    );
    let folder = HostFolder::new(
        &[(ADMIN, "admin", None, None, "admin")],
        &[("northside", &northside)],
    );
    enable_api_tls(&folder, &server);
    let process = start_tls(&folder, &server);
    let agent = https_agent(&server.certificate);
    let notifications = https(&folder, "/v1/sites/northside/connectors/ehr/notifications");
    let task = switchboard_tests::fhir_task(41);

    let (health, _) = get(&agent, &https(&folder, "/healthz"), None).expect("healthz over HTTPS");
    let (worklist, page) = get(
        &agent,
        &https(&folder, "/v1/sites/northside/worklists/roles/ma"),
        Some(ADMIN),
    )
    .expect("worklist over HTTPS");
    let (anonymous, _) = get(
        &agent,
        &https(&folder, "/v1/sites/northside/worklists/roles/ma"),
        None,
    )
    .expect("worklist over HTTPS");
    let plain = get(&public_roots_agent(), &folder.url("/healthz"), None);
    let untrusted = get(&public_roots_agent(), &https(&folder, "/healthz"), None);
    let signed = agent
        .post(&notifications)
        .header("content-type", "application/fhir+json")
        .header(
            switchboard::api::SIGNATURE_HEADER,
            &switchboard_egress::webhook::sign(WEBHOOK_SECRET.as_bytes(), task.as_bytes()),
        )
        .send(task.as_bytes())
        .expect("notification sent")
        .status()
        .as_u16();
    let unsigned = agent
        .post(&notifications)
        .header("content-type", "application/fhir+json")
        .send(task.as_bytes())
        .expect("notification sent")
        .status()
        .as_u16();
    let notified = wait_for("the notified Task to be routed", || {
        ["front-desk", "rn", "ma", "physician", "np", "billing"]
            .iter()
            .find_map(|role| routed(&agent, &folder, role, "Task/t41"))
    });
    let log = process.log_text();
    drop(process);

    assert_eq!(health, 200);
    assert_eq!(worklist, 200, "{page}");
    assert!(page["items"].is_array(), "{page}");
    assert_eq!(anonymous, 401, "HTTPS does not replace the bearer token");
    assert!(
        plain.is_err(),
        "plain HTTP to the TLS port must fail, got {plain:?}"
    );
    assert!(
        untrusted.is_err(),
        "a client that does not trust the certificate must fail, got {untrusted:?}"
    );
    assert_eq!(signed, 202);
    assert_eq!(unsigned, 401);
    assert!(
        notified.is_some(),
        "the signed Task was not routed; log:\n{log}"
    );
}

#[test]
fn mllp_over_tls_requires_sender_certificate() {
    let server = server_identity();
    let (ca_pem, sender) = sender_pki();
    let (_, stranger) = sender_pki();
    let mllp_port = free_port();
    let rejected_port = free_port();
    let broken_port = free_port();
    let northside = format!(
        "
[routing]
plugin = \"table-policy\"
config = \"northside/routing.toml\"

[[connectors]]
name = \"lab\"
plugin = \"hl7v2-connector\"
mllp_listen = \"127.0.0.1:{mllp_port}\"
mllp_tls_cert = \"northside/tls/mllp-chain.pem\"
mllp_tls_key = \"northside/tls/mllp-key.pem\"
mllp_tls_client_ca = \"northside/tls/senders-ca.pem\"

[[connectors]]
name = \"broken-lab\"
plugin = \"hl7v2-connector\"
mllp_listen = \"127.0.0.1:{broken_port}\"
mllp_tls_cert = \"northside/tls/missing-chain.pem\"
mllp_tls_key = \"northside/tls/mllp-key.pem\"
"
    );
    // 192.0.2.0/24 is reserved for documentation: nothing here may bind it.
    let southside = format!(
        "
[[connectors]]
name = \"lab\"
plugin = \"hl7v2-connector\"
mllp_listen = \"192.0.2.10:{rejected_port}\"
"
    );
    let folder = HostFolder::new(
        &[(ADMIN, "admin", None, None, "admin")],
        &[("northside", &northside), ("southside", &southside)],
    );
    let tls_dir = folder.path().join("sites/northside/tls");
    write(&tls_dir.join("mllp-chain.pem"), &server.certificate_pem);
    write(&tls_dir.join("mllp-key.pem"), &server.key_pem);
    write(&tls_dir.join("senders-ca.pem"), &ca_pem);
    enable_api_tls(&folder, &server);
    let process = start_tls(&folder, &server);
    let agent = https_agent(&server.certificate);
    // The MLLP listeners start just after the sites load.
    wait_for("the MLLP listener", || {
        TcpStream::connect(("127.0.0.1", mllp_port)).ok()
    })
    .expect("the MLLP listener accepts connections");

    let accepted = mllp_over_tls(
        mllp_port,
        mllp_tls_client(&server, Some(&sender)),
        &oru("TLS-1", "7001"),
    );
    let item = wait_for("the result sent over TLS to be routed", || {
        routed(&agent, &folder, "physician", "result/LAB|F-7001")
    });
    let anonymous = mllp_over_tls(
        mllp_port,
        mllp_tls_client(&server, None),
        &oru("TLS-2", "7002"),
    );
    let foreign = mllp_over_tls(
        mllp_port,
        mllp_tls_client(&server, Some(&stranger)),
        &oru("TLS-3", "7003"),
    );
    let plain = mllp_exchange(connect(mllp_port), &oru("TLS-4", "7004"));
    let broken_line = wait_for("the broken listener to be logged", || {
        process
            .log_text()
            .lines()
            .find(|line| line.contains("MLLP listener not started"))
            .map(str::to_string)
    });
    let broken = TcpStream::connect(("127.0.0.1", broken_port));
    let (_, health) = get(&agent, &https(&folder, "/healthz"), None).expect("healthz");
    let log = process.log_text();
    drop(process);

    let ack = accepted.expect("an acknowledgement over TLS");
    assert!(ack.contains("MSA|AA|TLS-1"), "{ack}");
    let item = item.unwrap_or_else(|| panic!("the result was not routed; log:\n{log}"));
    assert_eq!(item["flag"], "critical");
    assert!(
        anonymous.is_err(),
        "a sender without a certificate must fail, got {anonymous:?}"
    );
    assert!(
        foreign.is_err(),
        "a certificate from another CA must fail, got {foreign:?}"
    );
    assert!(
        plain.is_err(),
        "plain MLLP to the TLS port must get no acknowledgement, got {plain:?}"
    );
    assert!(
        log.contains("TLS handshake on the MLLP listener failed"),
        "failed handshakes are logged; log:\n{log}"
    );
    assert!(
        broken.is_err(),
        "a listener whose certificate is missing must not start"
    );
    let broken_line =
        broken_line.unwrap_or_else(|| panic!("the missing certificate is logged; log:\n{log}"));
    assert!(broken_line.contains("broken-lab"), "{broken_line}");
    assert!(broken_line.contains("mllp_tls_cert"), "{broken_line}");
    assert!(broken_line.contains("missing-chain.pem"), "{broken_line}");
    let southside = &health["sites"]["southside"];
    assert_eq!(southside["state"], "failed", "{health}");
    let errors = southside["errors"].to_string();
    assert!(errors.contains("connectors[0].mllp_listen"), "{errors}");
    assert!(
        errors.contains(&format!("192.0.2.10:{rejected_port}")),
        "{errors}"
    );
    assert!(errors.contains("connectors[0].mllp_tls_cert"), "{errors}");
}

/// `[api]` settings that must stop `serve`, and texts its error must contain.
struct BadSettings {
    case: &'static str,
    api: &'static [(&'static str, &'static str)],
    expected: &'static [&'static str],
}

#[test]
fn serve_rejects_bad_tls_settings() {
    let server = server_identity();
    let other = server_identity();
    let cases = [
        BadSettings {
            case: "a certificate path that does not exist",
            api: &[("tls_cert", "tls/missing.pem"), ("tls_key", "tls/key.pem")],
            expected: &["api.tls_cert", "missing.pem", "point api.tls_cert at"],
        },
        BadSettings {
            case: "a key of another certificate",
            api: &[
                ("tls_cert", "tls/chain.pem"),
                ("tls_key", "tls/other-key.pem"),
            ],
            expected: &["api.tls_cert and api.tls_key", "key belongs"],
        },
        BadSettings {
            case: "an address other than loopback without TLS",
            api: &[("listen", "192.0.2.10:7400")],
            expected: &[
                "api.listen",
                "192.0.2.10:7400",
                "set api.tls_cert and api.tls_key",
            ],
        },
    ];

    for BadSettings {
        case,
        api,
        expected,
    } in cases
    {
        let folder = plain_folder();
        write(
            &folder.path().join("tls/chain.pem"),
            &server.certificate_pem,
        );
        write(&folder.path().join("tls/key.pem"), &server.key_pem);
        write(&folder.path().join("tls/other-key.pem"), &other.key_pem);
        set_api(&folder, api);

        let (status, stderr) = serve_expecting_failure(&folder);

        assert_eq!(status.code(), Some(1), "{case}: {stderr}");
        for text in expected {
            assert!(
                stderr.contains(text),
                "{case}: {text:?} missing in {stderr}"
            );
        }
        assert!(
            !stderr.contains("API listening"),
            "{case}: nothing may listen: {stderr}"
        );
    }
}
