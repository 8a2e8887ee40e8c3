//! A practice for the scheduler tests: an in-process host on a manual
//! clock with the real routing table and nudge policy, a webhook receiver
//! on loopback and a capture of every log line the test binary writes.

#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;
use switchboard::app::{App, AppOptions, schedule};
use switchboard::runtime::ManualClock;
use switchboard_engine::model::NudgeRecord;
use switchboard_engine::{IngestOptions, Item, ItemId};
use switchboard_sdk::{
    Attribute, Batch, Category, ChartChange, ChartEvent, EhrState, Event, ResultFlag, Timestamp,
    WorkItem,
};

/// Connector instance name the test items arrive under.
pub const CONNECTOR: &str = "ehr";

/// Token that reads `/metrics`.
pub const METRICS_TOKEN: &str = "metrics-token-for-the-nudge-tests";

/// The nudge offsets every test site uses, in minutes from the chart
/// deadline (visit notes) or the due time (other items). The tests compute
/// their expected times from these by hand.
pub const CHART_REMINDER_MINUTES: i64 = -240;
/// See [`CHART_REMINDER_MINUTES`].
pub const CHART_WARNING_MINUTES: i64 = 0;
/// See [`CHART_REMINDER_MINUTES`].
pub const CHART_ESCALATION_MINUTES: i64 = 1440;
/// The site's `chart_deadline_hours`.
pub const CHART_DEADLINE_HOURS: i64 = 24;
/// `due_minutes` of the critical-result rules.
pub const CRITICAL_DUE_MINUTES: i64 = 60;

/// The roster of every test site: three physicians (two of them medical
/// directors), a nurse practitioner, a nurse and a medical assistant, all on
/// the clinic hours of Monday to Friday 08:00-17:00 in Chicago.
const ROSTER: &str = r#"
time_zone = "America/Chicago"
clinic_hours = ["mon-fri 08:00-17:00"]
closing_time = "18:00"
chart_deadline_hours = 24
fallback_owner = "dr-lee"

[[roles]]
name = "physician"
clinician = true

[[roles]]
name = "np"
clinician = true

[[roles]]
name = "rn"

[[roles]]
name = "ma"

[[roles]]
name = "medical-director"

[[people]]
id = "dr-lee"
name = "Dr. Lee"
roles = ["physician", "medical-director"]
ehr_ids = ["Practitioner/lee"]

[[people]]
id = "dr-patel"
name = "Dr. Patel"
roles = ["physician", "medical-director"]
ehr_ids = ["Practitioner/patel"]

[[people]]
id = "dr-ortiz"
name = "Dr. Ortiz"
roles = ["physician"]
ehr_ids = ["Practitioner/ortiz"]

[[people]]
id = "np-shah"
name = "P. Shah, NP"
roles = ["np"]
ehr_ids = ["Practitioner/shah"]

[[people]]
id = "rn-kim"
name = "K. Kim, RN"
roles = ["rn"]

[[people]]
id = "ma-ana"
name = "Ana R."
roles = ["ma"]
"#;

/// Critical results from the stat lab go to the physician pool. Any other
/// critical result must reach its ordering clinician, so it fails routing
/// (`no-owner`) when it names none.
const ROUTING: &str = r#"
schema = 1

[[rule]]
name = "critical-stat-lab"
reason = "critical results from the stat lab go to the physician pool"
when = { category = "result", flag = "critical", attributes = { source = "stat-lab" } }
role = "physician"
set_priority = "stat"
due_minutes = 60

[[rule]]
name = "critical-results"
reason = "critical results go to the ordering clinician"
when = { category = "result", flag = "critical" }
role = "physician"
strategy = "ordering"
require_person = true
set_priority = "stat"
due_minutes = 60

[[rule]]
name = "visit-notes"
reason = "visit notes go to the rendering clinician"
when = { category = "visit-note" }
role = ["physician", "np"]
strategy = "rendering"

[[rule]]
name = "catch-all"
reason = "everything else goes to the nurse pool"
role = "rn"
"#;

/// Writes the nudge config from the constants above.
fn nudges_config() -> String {
    format!(
        "schema = 1\n\n[charts]\nreminder_minutes = {CHART_REMINDER_MINUTES}\n\
         warning_minutes = {CHART_WARNING_MINUTES}\nescalation_minutes = {CHART_ESCALATION_MINUTES}\n\n\
         [escalation]\nrole = \"medical-director\"\n"
    )
}

/// Which routing policy a test site runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Routing {
    /// The routing table above, with the closure-nudge policy.
    Table,
    /// The hostile test policy, which traps on an item with attribute
    /// `hostile = "panic"`; no nudge policy.
    Hostile,
}

/// An in-process host with one site, stopped on drop.
pub struct Practice {
    /// The host.
    pub app: Arc<App>,
    /// The host's clock.
    pub clock: Arc<ManualClock>,
    /// The site id.
    pub site: String,
    _dir: tempfile::TempDir,
}

impl Practice {
    /// Opens a host at `start` with one site named `site`, routed by the
    /// policy `routing` selects, posting nudges and alerts to `webhook` when
    /// given.
    pub fn open(site: &str, routing: Routing, webhook: Option<&str>, start: Timestamp) -> Self {
        capture_logs();
        let dir = tempfile::tempdir().expect("a temporary folder");
        write_config(dir.path(), site, routing, webhook);
        let clock = Arc::new(ManualClock::new(start));
        let options = AppOptions {
            clock: clock.clone(),
            watch: false,
            background: false,
            ..AppOptions::default()
        };

        let app = App::open(dir.path(), options).expect("the host opens");
        app.load_sites();

        assert!(
            app.sites.get(site).is_some(),
            "site {site} did not load: {:?}",
            app.sites.failures()
        );
        Practice {
            app,
            clock,
            site: site.to_string(),
            _dir: dir,
        }
    }

    /// Stores a batch as the connector would and routes it.
    pub fn ingest(&self, items: Vec<WorkItem>, events: Vec<Event>) {
        let batch = Batch {
            items,
            events,
            ..Batch::default()
        };
        self.app
            .ingest_batch(&self.site, CONNECTOR, batch, IngestOptions::default())
            .expect("the batch is stored");
        self.app
            .engine
            .route_pending(&self.site)
            .expect("routing runs");
    }

    /// Returns the id the host gave the item with this external id.
    pub fn id_of(&self, external_id: &str) -> ItemId {
        self.app
            .engine
            .store()
            .find_source(&self.site, CONNECTOR, external_id)
            .expect("the store reads")
            .unwrap_or_else(|| panic!("item {external_id} is stored"))
            .0
    }

    /// Reads the stored item.
    pub fn item(&self, id: ItemId) -> Item {
        self.app
            .engine
            .item(&self.site, id)
            .expect("the item reads")
    }

    /// Sets the clock to `at` and runs one scheduler tick.
    pub fn tick_at(&self, at: Timestamp) {
        self.clock.set(at);
        schedule::tick(&self.app);
    }

    /// Lists the nudges recorded for an item as (level, role, person, time),
    /// ordered by time, then level, then person.
    pub fn nudges(&self, id: ItemId) -> Vec<(String, String, Option<String>, Timestamp)> {
        let mut nudges: Vec<NudgeRecord> = self.app.engine.nudges(id).expect("nudges read");
        nudges.sort_by(|a, b| (a.at, a.level, &a.person).cmp(&(b.at, b.level, &b.person)));
        nudges
            .into_iter()
            .map(|n| (n.level.as_str().to_string(), n.role, n.person, n.at))
            .collect()
    }

    /// Serves the host's API on a loopback port; returns the runtime that
    /// runs it and the base URL.
    pub fn serve_api(&self) -> (tokio::runtime::Runtime, String) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("a loopback port");
        let address = listener.local_addr().expect("a bound address");
        let router = switchboard::api::router(self.app.clone());
        runtime.spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                eprintln!("the test API stopped: {error}");
            }
        });
        (runtime, format!("http://{address}"))
    }
}

impl Drop for Practice {
    fn drop(&mut self) {
        self.app.shutdown();
    }
}

fn write_config(root: &Path, site: &str, routing: Routing, webhook: Option<&str>) {
    let hash = switchboard::app::tokens::hash_token(METRICS_TOKEN);
    let host = format!(
        "schema = 1\ndata_dir = \"data\"\n\n[[tokens]]\nname = \"metrics\"\nsha256 = \"{hash}\"\nscopes = [\"metrics\"]\n"
    );
    std::fs::write(root.join("switchboard.toml"), host).expect("switchboard.toml");

    let plugins = root.join("plugins");
    switchboard::bundled::install_all(&plugins).expect("the bundled plugins install");
    let hostile = plugins.join("hostile-policy").join("0.1.0");
    std::fs::create_dir_all(&hostile).expect("a plugin folder");
    let built = switchboard::bundled::guest_dir("hostile-policy");
    for file in ["plugin.wasm", "plugin.toml"] {
        std::fs::copy(built.join(file), hostile.join(file)).expect("the hostile guest copies");
    }

    let sites = root.join("sites");
    std::fs::create_dir_all(sites.join(site)).expect("the site's config folder");
    std::fs::write(sites.join(site).join("routing.toml"), ROUTING).expect("routing.toml");
    std::fs::write(sites.join(site).join("nudges.toml"), nudges_config()).expect("nudges.toml");

    let mut text = format!("schema = 1\nid = \"{site}\"\nname = \"Test practice {site}\"\n");
    if let Some(url) = webhook {
        text.push_str(&format!("nudge_webhook = \"{url}\"\n"));
    }
    text.push_str(ROSTER);
    match routing {
        Routing::Table => text.push_str(&format!(
            "\n[routing]\nplugin = \"table-policy\"\nconfig = \"{site}/routing.toml\"\n\n\
             [nudges]\nplugin = \"closure-nudges\"\nconfig = \"{site}/nudges.toml\"\n"
        )),
        Routing::Hostile => text.push_str("\n[routing]\nplugin = \"hostile-policy\"\n"),
    }
    std::fs::write(sites.join(format!("{site}.toml")), text).expect("the site file");
}

/// Parses an RFC 3339 time.
pub fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).expect("a valid timestamp")
}

/// Builds an open visit note for `encounter` whose visit ended at `ended`,
/// with `clinician` (an EHR reference) as the rendering clinician, and the
/// chart `opened` event the connector sends with it.
pub fn visit_note(encounter: &str, clinician: &str, ended: Timestamp) -> (WorkItem, Event) {
    let mut item = WorkItem::new(
        format!("Encounter/{encounter}"),
        1,
        Category::VisitNote,
        "office visit note",
        ended,
    );
    item.patient = Some(format!("Patient/{encounter}-patient"));
    item.encounter = Some(format!("Encounter/{encounter}"));
    item.rendering = Some(clinician.to_string());
    let event = chart_event(&item, ChartChange::Opened, ended, ended);
    (item, event)
}

/// Builds the signed version of a visit note and its chart `signed` event.
pub fn signed(note: &WorkItem, ended: Timestamp, signed_at: Timestamp) -> (WorkItem, Event) {
    let mut item = note.clone();
    item.version += 1;
    item.state = EhrState::Done;
    let event = chart_event(&item, ChartChange::Signed, ended, signed_at);
    (item, event)
}

fn chart_event(item: &WorkItem, change: ChartChange, ended: Timestamp, at: Timestamp) -> Event {
    Event::Chart(ChartEvent {
        encounter: item
            .encounter
            .clone()
            .expect("a visit note has an encounter"),
        patient: item.patient.clone(),
        clinician: item.rendering.clone(),
        change,
        visit_ended: ended,
        at,
    })
}

/// Builds a critical result created at `created`.
pub fn critical_result(external_id: &str, created: Timestamp) -> WorkItem {
    let mut item = WorkItem::new(
        external_id,
        1,
        Category::Result,
        "potassium 6.9 mmol/L",
        created,
    );
    item.flag = ResultFlag::Critical;
    item.patient = Some(format!("Patient/{external_id}-patient"));
    item
}

/// Adds an attribute.
pub fn with_attribute(mut item: WorkItem, key: &str, value: &str) -> WorkItem {
    item.attributes.push(Attribute {
        key: key.into(),
        value: value.into(),
    });
    item
}

/// Returns every log line the test binary wrote so far, from every thread.
pub fn captured_logs() -> String {
    let buffer = log_buffer().lock().unwrap_or_else(|p| p.into_inner());
    String::from_utf8_lossy(&buffer).into_owned()
}

fn log_buffer() -> &'static Mutex<Vec<u8>> {
    static BUFFER: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
    BUFFER.get_or_init(|| Mutex::new(Vec::new()))
}

/// A writer that appends to the shared log buffer.
struct CaptureWriter;

impl Write for CaptureWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        log_buffer()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber for the whole test binary, at debug
/// level so plugin debug lines are checked too. The first call wins.
fn capture_logs() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(|| CaptureWriter)
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other subscriber is installed in this test binary");
    });
}

/// An HTTP receiver on loopback that stores every JSON body posted to it.
pub struct WebhookReceiver {
    /// The URL to post to.
    pub url: String,
    bodies: Arc<(Mutex<Vec<Value>>, Condvar)>,
    _runtime: tokio::runtime::Runtime,
}

/// How long a test waits for the webhook worker to deliver.
const DELIVERY_DEADLINE: Duration = Duration::from_secs(30);

impl WebhookReceiver {
    /// Starts the receiver on a free loopback port.
    pub fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("a loopback port");
        let address = listener.local_addr().expect("a bound address");
        let bodies: Arc<(Mutex<Vec<Value>>, Condvar)> = Arc::default();

        let stored = bodies.clone();
        let router = axum::Router::new().route(
            "/hooks/switchboard",
            axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
                let stored = stored.clone();
                async move {
                    let (list, arrived) = &*stored;
                    list.lock().unwrap_or_else(|p| p.into_inner()).push(body);
                    arrived.notify_all();
                    axum::http::StatusCode::NO_CONTENT
                }
            }),
        );
        runtime.spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                eprintln!("the webhook receiver stopped: {error}");
            }
        });

        WebhookReceiver {
            url: format!("http://{address}/hooks/switchboard"),
            bodies,
            _runtime: runtime,
        }
    }

    /// Waits until `done` holds for the bodies received so far, then
    /// returns them; panics after 30 s.
    pub fn wait_until(&self, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let (list, arrived) = &*self.bodies;
        let deadline = Instant::now() + DELIVERY_DEADLINE;
        let mut bodies = list.lock().unwrap_or_else(|p| p.into_inner());
        while !done(&bodies) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "webhook: {what} did not arrive within {DELIVERY_DEADLINE:?}; received {bodies:?}"
            );
            bodies = arrived
                .wait_timeout(bodies, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        bodies.clone()
    }
}

/// True when some body is an `event` post about `item` whose `field` is
/// `value`.
pub fn has_body(bodies: &[Value], event: &str, item: ItemId, field: &str, value: &str) -> bool {
    bodies
        .iter()
        .any(|b| b["event"] == event && b["item"] == item.0 && b[field] == value)
}
