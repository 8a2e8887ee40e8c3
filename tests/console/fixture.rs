//! The host the console tests run against. It has a temporary
//! configuration folder with the sample site and a second site, the bundled
//! plugins plus a newer routing version to roll back from, and hashed
//! tokens, and it serves the real API and console on a loopback port. Every
//! test of the binary shares one host, because compiling the plugins and
//! routing ten thousand items takes most of the run.

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use switchboard::app::tokens::hash_token;
use switchboard::app::{App, AppOptions};
use switchboard::runtime::ManualClock;
use switchboard::sites::{ReloadOutcome, SlotKind};
use switchboard_engine::{IngestOptions, ItemId, WorklistQuery};
use switchboard_sdk::{
    Batch, Category, ChartChange, ChartEvent, Event, ResultFlag, Timestamp, WorkItem,
};
use switchboard_tests::workspace;

/// The sites' clock: Friday 27 March 2026, 15:00 in Chicago.
pub const NOW: &str = "2026-03-27T20:00:00Z";

/// Staff token of `ma-ana`, a medical assistant of the blue pod at Northside.
pub const ANA: &str = "console-test-ana-1f6c0d";
/// Staff token of `ma-ben`, the other blue-pod medical assistant.
pub const BEN: &str = "console-test-ben-93ad51";
/// Host-wide admin token without a person.
pub const ADMIN: &str = "console-test-admin-77e0b4";
/// Host-wide metrics token.
pub const METRICS: &str = "console-test-metrics-41b2e8";
/// Intake token of Northside, which the console does not accept.
pub const INTAKE: &str = "console-test-intake-c3d9aa";

/// Normal results routed to the RN pool, for the paging and load-time test.
pub const POOL_ITEMS: usize = 10_000;

/// External id of the refill whose title carries HTML markup.
pub const MARKUP_REFILL: &str = "MedicationRequest/r1";
/// That refill's title, which pages must show as text.
pub const MARKUP_TITLE: &str = "<b>lisinopril</b> & \"renewal\"";

/// A Southside visit note without its rendering clinician, which the
/// example policy rejects, so it stays a dead letter.
pub const UNSIGNED_NOTE: &str = "Encounter/unsigned-1";

/// A running host and what the tests need to know about its data.
pub struct Host {
    /// The host state, for checks made beside the browser.
    pub app: Arc<App>,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The table-policy version installed first.
    pub old_routing: String,
    /// The newer version active at Northside when the tests start.
    pub new_routing: String,
    /// Items suggested to `ma-ana`, in worklist order.
    pub ana_items: Vec<ItemId>,
    /// The refill whose title carries markup.
    pub markup_item: ItemId,
    _runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

static HOST: OnceLock<Host> = OnceLock::new();

/// Returns the shared host, starting it for the first test that needs it.
pub fn host() -> &'static Host {
    HOST.get_or_init(Host::start)
}

/// Parses an RFC 3339 time.
pub fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).expect("a valid timestamp")
}

impl Host {
    fn start() -> Host {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let root = dir.path();
        write_sites(root);
        let installed = switchboard::bundled::install_all(&root.join("plugins"))
            .expect("the bundled plugins install");
        let old_routing = installed
            .iter()
            .find(|(name, _)| name == "table-policy")
            .map(|(_, version)| version.clone())
            .expect("table-policy is bundled");
        write_host_file(root);

        let options = AppOptions {
            clock: Arc::new(ManualClock::new(at(NOW))),
            watch: false,
            background: false,
            ..AppOptions::default()
        };
        let app = App::open(root, options).expect("the host opens");
        app.load_sites();
        for site in ["northside", "southside"] {
            assert!(
                app.sites.get(site).is_some(),
                "site {site} did not load: {:?}",
                app.sites.failures()
            );
        }

        let new_routing = install_newer_routing(root, &old_routing);
        let event = app.sites.reload_site("northside");
        assert!(
            matches!(&event.outcome, ReloadOutcome::Applied { activations }
                if activations.iter().any(|a| a.slot == SlotKind::Routing && a.version == new_routing)),
            "the newer routing version did not activate: {event:?}"
        );

        feed(&app);
        let ana_items = suggested_to(&app, "ma-ana");
        assert!(
            ana_items.len() >= 2,
            "ma-ana has {} items; the tests need two",
            ana_items.len()
        );
        let markup_item = app
            .engine
            .store()
            .find_source("northside", "ehr", MARKUP_REFILL)
            .expect("the store reads")
            .expect("the markup refill is stored")
            .0;

        let (runtime, base) = serve(app.clone());
        Host {
            app,
            base,
            old_routing,
            new_routing,
            ana_items,
            markup_item,
            _runtime: runtime,
            _dir: dir,
        }
    }

    /// Returns the absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// Copies the sample site and writes a second site, Southside, with the
/// same roster. Southside routes with the example policy and runs the
/// routing table in shadow mode, so it has disagreements to report, and
/// the example policy rejects a visit note without its rendering
/// clinician, which leaves a dead letter.
fn write_sites(root: &Path) {
    let sample = workspace().join("examples/config/sites");
    let sites = root.join("sites");
    std::fs::create_dir_all(sites.join("northside")).expect("the sites folder");
    for entry in std::fs::read_dir(sample.join("northside")).expect("the sample site's folder") {
        let entry = entry.expect("a readable entry");
        std::fs::copy(
            entry.path(),
            sites.join("northside").join(entry.file_name()),
        )
        .expect("a sample config file copies");
    }
    let northside =
        std::fs::read_to_string(sample.join("northside.toml")).expect("the sample site");
    std::fs::write(sites.join("northside.toml"), &northside).expect("northside.toml");

    let roster = northside
        .split("# Plugins.")
        .next()
        .expect("the sample site has a roster")
        .replace("id = \"northside\"", "id = \"southside\"")
        .replace("Northside Family Medicine", "Southside Clinic");
    let southside = format!(
        "{roster}\n[routing]\nplugin = \"example-policy\"\n\n\
         [shadow]\nplugin = \"table-policy\"\nconfig = \"northside/routing.toml\"\n\n\
         [[connectors]]\nname = \"ehr\"\nplugin = \"fhir-connector\"\nconfig = \"northside/fhir.toml\"\n"
    );
    std::fs::write(sites.join("southside.toml"), southside).expect("southside.toml");
}

fn write_host_file(root: &Path) {
    let token =
        |name: &str, secret: &str, site: Option<&str>, person: Option<&str>, scope: &str| {
            let mut text = format!(
                "\n[[tokens]]\nname = \"{name}\"\nsha256 = \"{}\"\nscopes = [\"{scope}\"]\n",
                hash_token(secret)
            );
            if let Some(site) = site {
                text.push_str(&format!("site = \"{site}\"\n"));
            }
            if let Some(person) = person {
                text.push_str(&format!("person = \"{person}\"\n"));
            }
            text
        };
    let mut text =
        "schema = 1\ndata_dir = \"data\"\n\n[api]\nlisten = \"127.0.0.1:0\"\n".to_string();
    text.push_str(&token(
        "ana",
        ANA,
        Some("northside"),
        Some("ma-ana"),
        "staff",
    ));
    text.push_str(&token(
        "ben",
        BEN,
        Some("northside"),
        Some("ma-ben"),
        "staff",
    ));
    text.push_str(&token("admin", ADMIN, None, None, "admin"));
    text.push_str(&token("metrics", METRICS, None, None, "metrics"));
    text.push_str(&token(
        "interface-engine",
        INTAKE,
        Some("northside"),
        None,
        "intake",
    ));
    std::fs::write(root.join("switchboard.toml"), text).expect("switchboard.toml");
}

/// Installs table-policy again under the next patch version, so Northside
/// has a previous routing version to roll back to.
fn install_newer_routing(root: &Path, old: &str) -> String {
    let mut parts: Vec<u64> = old
        .split('.')
        .map(|p| p.parse().expect("a numeric version"))
        .collect();
    *parts.last_mut().expect("a version has parts") += 1;
    let new = parts
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".");

    let plugins = root.join("plugins/table-policy");
    let (from, to) = (plugins.join(old), plugins.join(&new));
    std::fs::create_dir_all(&to).expect("the new version's folder");
    let manifest = std::fs::read_to_string(from.join("plugin.toml")).expect("the manifest");
    let manifest: String = manifest
        .lines()
        .map(|line| {
            if line.starts_with("version") {
                format!("version = \"{new}\"\n")
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    std::fs::write(to.join("plugin.toml"), manifest).expect("the new manifest");
    std::fs::copy(from.join("plugin.wasm"), to.join("plugin.wasm")).expect("the component copies");
    new
}

/// Stores the test data and routes it: refills for the blue pod's medical
/// assistants (odd ones overdue), ten thousand normal results for the RN
/// pool and a month of Dr. Lee's charts at Northside; forms, refills and
/// a visit note without its clinician at Southside.
fn feed(app: &App) {
    let now = at(NOW);
    let mut refills = Batch::default();
    for n in 1..=8 {
        let title = if n == 1 {
            MARKUP_TITLE.to_string()
        } else {
            format!("refill renewal {n}")
        };
        let mut item = WorkItem::new(
            format!("MedicationRequest/r{n}"),
            1,
            Category::Refill,
            title,
            now.plus_minutes(-120),
        );
        item.patient = Some(format!("Patient/p{n}"));
        item.pcp = Some("Practitioner/lee".into());
        item.due = Some(if n % 2 == 1 {
            now.plus_minutes(-60)
        } else {
            now.plus_minutes(24 * 60)
        });
        refills.items.push(item);
    }
    refills.events = chart_events();
    ingest(app, "northside", refills);

    for chunk in 0..POOL_ITEMS / 1000 {
        let mut results = Batch::default();
        for n in chunk * 1000..(chunk + 1) * 1000 {
            let mut item = WorkItem::new(
                format!("DiagnosticReport/bulk-{n}"),
                1,
                Category::Result,
                format!("basic metabolic panel {n}"),
                now.plus_minutes(-600),
            );
            item.flag = ResultFlag::Normal;
            item.patient = Some(format!("Patient/bulk-{n}"));
            item.due = Some(now.plus_minutes(60 + (n % 500) as i64));
            results.items.push(item);
        }
        ingest(app, "northside", results);
    }

    let mut southside = Batch::default();
    for n in 1..=2 {
        southside.items.push(WorkItem::new(
            format!("QuestionnaireResponse/f{n}"),
            1,
            Category::Form,
            format!("school form {n}"),
            now.plus_minutes(-30),
        ));
    }
    for n in 1..=3 {
        let mut refill = WorkItem::new(
            format!("MedicationRequest/s{n}"),
            1,
            Category::Refill,
            format!("renewal {n}"),
            now.plus_minutes(-30),
        );
        refill.pcp = Some("Practitioner/lee".into());
        southside.items.push(refill);
    }
    southside.items.push(WorkItem::new(
        UNSIGNED_NOTE,
        1,
        Category::VisitNote,
        "office visit note",
        now.plus_minutes(-30),
    ));
    ingest(app, "southside", southside);

    route_all(app, "northside", 0);
    route_all(app, "southside", 1);
}

fn ingest(app: &App, site: &str, batch: Batch) {
    let report = app
        .ingest_batch(site, "ehr", batch, IngestOptions::default())
        .expect("the batch is stored");
    assert!(
        report.rejects.is_empty(),
        "inputs rejected: {:?}",
        report.rejects
    );
}

/// Dr. Lee's visits on the weekdays of four weeks, all at 15:00Z (09:00 or
/// 10:00 in Chicago). Visits of 16 to 27 February are signed two days
/// later, visits of 2 to 13 March one day later, always at 15:00Z. So the
/// baseline's median is 2.00 days and the pilot's 1.00. A signature on a
/// Saturday or Sunday is after hours: 4 of 10 in the baseline (Thursday
/// and Friday visits) and 2 of 10 in the pilot (Friday visits).
fn chart_events() -> Vec<Event> {
    let mut events = Vec::new();
    let weeks: [(&str, i64); 4] = [
        ("2026-02-16", 2),
        ("2026-02-23", 2),
        ("2026-03-02", 1),
        ("2026-03-09", 1),
    ];
    for (monday, delay_days) in weeks {
        for weekday in 0..5 {
            let visit = at(&format!("{monday}T15:00:00Z")).plus_minutes(weekday * 24 * 60);
            let encounter = format!("Encounter/{}", visit.0);
            let event = |change, when: Timestamp| {
                Event::Chart(ChartEvent {
                    encounter: encounter.clone(),
                    patient: Some("Patient/chart".into()),
                    clinician: Some("Practitioner/lee".into()),
                    change,
                    visit_ended: visit,
                    at: when,
                })
            };
            events.push(event(ChartChange::Opened, visit));
            events.push(event(
                ChartChange::Signed,
                visit.plus_minutes(delay_days * 24 * 60),
            ));
        }
    }
    events
}

/// Routes until nothing waits, in this thread, so the tests never wait on
/// the background dispatcher (the engine serializes the two), and checks
/// the number of dead letters left.
fn route_all(app: &App, site: &str, dead_letters: u32) {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let report = app.engine.route_pending(site).expect("routing runs");
        assert_eq!(report.failure, None, "the routing policy failed at {site}");
        let counts = app.engine.counts(site).expect("counts read");
        assert_eq!(counts.dead_letters, dead_letters, "dead letters at {site}");
        if counts.pending == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{site} still has {} pending items",
            counts.pending
        );
    }
}

fn suggested_to(app: &App, person: &str) -> Vec<ItemId> {
    let page = app
        .engine
        .worklist(&WorklistQuery::person("northside", person))
        .expect("the worklist reads");
    page.items.iter().map(|item| item.id).collect()
}

/// Serves the API and console on a free loopback port.
fn serve(app: Arc<App>) -> (tokio::runtime::Runtime, String) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("a loopback port");
    let address = listener.local_addr().expect("a bound address");
    let router = switchboard::api::router(app);
    runtime.spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            eprintln!("the test server stopped: {error}");
        }
    });
    (runtime, format!("http://{address}"))
}
