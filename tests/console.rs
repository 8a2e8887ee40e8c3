//! The web console against a real host on loopback. HTTP checks cover
//! sign-in, CSRF, authorization, escaping and headers. Then a headless
//! Chromium signs in, claims and completes an item, is refused another
//! site, rolls back a policy, reads a backlog chart and pages a pool of ten
//! thousand items.
//!
//! Screenshots of every page the browser visits are saved under
//! `<target dir>/console-screenshots/`.

#[path = "console/fixture.rs"]
mod fixture;
#[path = "console/webdriver.rs"]
mod webdriver;

use std::path::PathBuf;

use fixture::{ADMIN, ANA, BEN, INTAKE, MARKUP_TITLE, METRICS, POOL_ITEMS, UNSIGNED_NOTE, host};
use serde_json::Value;
use switchboard::sites::SlotKind;
use switchboard_engine::ItemStatus;
use webdriver::{Browser, ENTER, TAB, WINDOW, agent};

/// A response read whole.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// Returns the value of the first hidden `csrf` field of the page.
    fn csrf_field(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self
            .body
            .find(marker)
            .unwrap_or_else(|| panic!("the page has no csrf field: {}", self.body))
            + marker.len();
        self.body[start..]
            .split('"')
            .next()
            .unwrap_or_default()
            .to_string()
    }
}

fn read(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
    let mut response = response.expect("the host answers");
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    Reply {
        status: response.status().as_u16(),
        headers,
        body: response.body_mut().read_to_string().unwrap_or_default(),
    }
}

fn session(token: &str) -> String {
    format!("switchboard_session={token}")
}

fn get(path: &str, token: Option<&str>) -> Reply {
    let mut request = agent().get(host().url(path));
    if let Some(token) = token {
        request = request.header("Cookie", session(token));
    }
    read(request.call())
}

fn post_form(path: &str, cookie: &str, form: &str) -> Reply {
    read(
        agent()
            .post(host().url(path))
            .header("Cookie", cookie)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(form.to_string()),
    )
}

fn item_path(id: switchboard_engine::ItemId) -> String {
    format!("/console/sites/northside/items/{id}")
}

fn status_of(id: switchboard_engine::ItemId) -> ItemStatus {
    host()
        .app
        .engine
        .item("northside", id)
        .expect("the item reads")
        .status
}

#[test]
fn no_session_redirects_to_sign_in() {
    let reply = get("/console/sites/northside/worklist", None);

    assert_eq!(reply.status, 303);
    assert_eq!(
        reply.header("location"),
        Some("/console/sign-in?next=%2Fconsole%2Fsites%2Fnorthside%2Fworklist")
    );
}

#[test]
fn revoked_token_clears_cookie() {
    let reply = get("/console/sites/northside/worklist", Some("no-such-token"));

    assert_eq!(reply.status, 303);
    assert!(
        reply
            .header("location")
            .unwrap_or_default()
            .ends_with("&expired=1")
    );
    assert!(
        reply
            .headers_named("set-cookie")
            .iter()
            .any(|c| c.starts_with("switchboard_session=;") && c.contains("Max-Age=0")),
        "{:?}",
        reply.headers
    );
}

#[test]
fn sign_in_sets_strict_session_cookie() {
    let form_page = get("/console/sign-in", None);
    let nonce_cookie = form_page
        .headers_named("set-cookie")
        .into_iter()
        .find(|c| c.starts_with("switchboard_sign_in="))
        .expect("the sign-in page sets its nonce cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();

    let reply = post_form(
        "/console/sign-in",
        &nonce_cookie,
        &format!(
            "csrf={}&next=%2Fconsole&token={ANA}",
            form_page.csrf_field()
        ),
    );

    assert_eq!(reply.status, 303);
    assert_eq!(reply.header("location"), Some("/console"));
    let cookies = reply.headers_named("set-cookie");
    assert!(
        cookies.contains(
            &format!("switchboard_session={ANA}; Path=/; HttpOnly; SameSite=Strict").as_str()
        ),
        "{cookies:?}"
    );
}

#[test]
fn sign_in_without_nonce_is_forbidden() {
    let form_page = get("/console/sign-in", None);

    let reply = post_form(
        "/console/sign-in",
        "",
        &format!("csrf={}&token={ANA}", form_page.csrf_field()),
    );

    assert_eq!(reply.status, 403);
    assert!(
        reply.body.contains("CSRF token is missing"),
        "{}",
        reply.body
    );
    assert!(reply.headers_named("set-cookie").is_empty());
}

#[test]
fn sign_in_rejects_intake_token() {
    let form_page = get("/console/sign-in", None);
    let nonce_cookie = form_page
        .headers_named("set-cookie")
        .into_iter()
        .find(|c| c.starts_with("switchboard_sign_in="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();

    let reply = post_form(
        "/console/sign-in",
        &nonce_cookie,
        &format!("csrf={}&token={INTAKE}", form_page.csrf_field()),
    );

    assert_eq!(reply.status, 403);
    assert!(
        reply.body.contains("neither the staff nor the admin scope"),
        "{}",
        reply.body
    );
    assert!(
        !reply
            .headers_named("set-cookie")
            .iter()
            .any(|c| c.starts_with("switchboard_session=console"))
    );
}

#[test]
fn claim_without_csrf_is_forbidden() {
    let id = host().ana_items[1];
    let before = status_of(id);

    let reply = post_form(
        &format!("{}/claim", item_path(id)),
        &session(ANA),
        "back=%2Fconsole",
    );

    assert_eq!(reply.status, 403);
    assert_eq!(status_of(id), before);
}

#[test]
fn csrf_of_another_session_is_forbidden() {
    let id = host().ana_items[1];
    let before = status_of(id);
    let bens_field = get("/console/sites/northside/worklist", Some(BEN)).csrf_field();

    let reply = post_form(
        &format!("{}/claim", item_path(id)),
        &session(ANA),
        &format!("csrf={bens_field}&back=%2Fconsole"),
    );

    assert_eq!(reply.status, 403);
    assert_eq!(status_of(id), before);
}

#[test]
fn staff_cannot_open_admin_or_other_site() {
    let admin = get("/console/sites/northside/admin", Some(ANA));
    let other = get("/console/sites/southside/worklist", Some(ANA));
    let backlog = get("/console/sites/northside/backlog", Some(ANA));

    assert_eq!(admin.status, 403);
    assert!(
        admin.body.contains("may not administer at site"),
        "{}",
        admin.body
    );
    assert_eq!(other.status, 403);
    assert!(
        other
            .body
            .contains("may not work items at site &quot;southside&quot;"),
        "{}",
        other.body
    );
    assert_eq!(backlog.status, 403);
}

#[test]
fn metrics_token_opens_no_page() {
    // The backlog API needs the admin scope, so the backlog page does too.
    let backlog = get("/console/sites/southside/backlog", Some(METRICS));
    let worklist = get("/console/sites/southside/worklist", Some(METRICS));
    let api = read(
        agent()
            .get(host().url("/v1/sites/southside/backlog?baseline=2026-03-01..2026-03-14&pilot=2026-03-15..2026-03-27"))
            .header("Authorization", format!("Bearer {METRICS}"))
            .call(),
    );

    assert_eq!(backlog.status, 403);
    assert_eq!(worklist.status, 403);
    assert_eq!(api.status, 403);
}

#[test]
fn titles_from_the_ehr_are_escaped() {
    let id = host().markup_item;

    let reply = get(&item_path(id), Some(ANA));

    assert_eq!(reply.status, 200);
    assert!(
        reply
            .body
            .contains("&lt;b&gt;lisinopril&lt;/b&gt; &amp; &quot;renewal&quot;"),
        "{}",
        reply.body
    );
    assert!(!reply.body.contains(MARKUP_TITLE));
}

#[test]
fn pages_send_security_headers() {
    let reply = get("/console", Some(ANA));

    assert_eq!(reply.status, 200);
    let policy = reply.header("content-security-policy").unwrap_or_default();
    assert!(policy.contains("default-src 'none'"), "{policy}");
    assert!(policy.contains("form-action 'self'"), "{policy}");
    assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(reply.header("x-frame-options"), Some("DENY"));
}

#[test]
fn reassign_needs_reason() {
    let id = host().ana_items[1];
    let page = get(&item_path(id), Some(ANA));

    let reply = post_form(
        &format!("{}/reassign", item_path(id)),
        &session(ANA),
        &format!("csrf={}&role=rn&person=&reason=++", page.csrf_field()),
    );

    assert_eq!(reply.status, 422);
    assert!(reply.body.contains("reason is empty"), "{}", reply.body);
    assert_eq!(
        host().app.engine.item("northside", id).unwrap().role(),
        Some("ma")
    );
}

#[test]
fn backlog_defaults_to_first_and_last_fortnight() {
    // The data spans 16 February (first visit) to 27 March (items routed
    // today), so the defaults are 16 February to 1 March and 14 to 27 March.
    let reply = get("/console/sites/northside/backlog", Some(ADMIN));

    assert_eq!(reply.status, 200);
    for (field, value) in [
        ("baseline_from", "2026-02-16"),
        ("baseline_to", "2026-03-01"),
        ("pilot_from", "2026-03-14"),
        ("pilot_to", "2026-03-27"),
    ] {
        let input = format!("name=\"{field}\" value=\"{value}\"");
        assert!(
            reply.body.contains(&input),
            "missing {input} in {}",
            reply.body
        );
    }
}

#[test]
fn backlog_rejects_reversed_range() {
    let reply = get(
        "/console/sites/northside/backlog?pilot_from=2026-03-15&pilot_to=2026-03-02",
        Some(ADMIN),
    );

    assert_eq!(reply.status, 400);
    assert!(
        reply.body.contains("ends before it starts"),
        "{}",
        reply.body
    );
}

#[test]
fn shadow_dead_letter_retry_and_promotion() {
    let host = host();
    let note = host
        .app
        .engine
        .store()
        .find_source("southside", "ehr", UNSIGNED_NOTE)
        .unwrap()
        .expect("the visit note is stored")
        .0;

    let page = get("/console/sites/southside/admin", Some(ADMIN));
    let report = host.app.shadow.report("southside");

    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(&format!("id=\"dead-letter-{note}\"")),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("a visit note needs its rendering clinician"),
        "{}",
        page.body
    );
    assert!(report.disagreements >= 1, "{report:?}");
    let summary = format!(
        "{} disagreements in {} items compared",
        report.disagreements, report.compared
    );
    assert!(
        page.body.contains(&summary),
        "missing {summary:?} in {}",
        page.body
    );

    let retry = post_form(
        "/console/sites/southside/admin/retry",
        &session(ADMIN),
        &format!("csrf={}&item={note}", page.csrf_field()),
    );
    assert_eq!(retry.status, 303);
    assert!(
        retry
            .header("location")
            .unwrap_or_default()
            .contains("notice=retried")
    );
    assert!(
        host.app
            .engine
            .item("southside", note)
            .unwrap()
            .is_dead_letter()
    );

    let promote = post_form(
        "/console/sites/southside/admin/promote",
        &session(ADMIN),
        &format!("csrf={}", page.csrf_field()),
    );
    assert_eq!(promote.status, 303);
    assert_eq!(
        promote.header("location"),
        Some("/console/sites/southside/admin?notice=promoted")
    );
    let state = host.app.sites.get("southside").unwrap().state();
    assert!(state.shadow().is_none());
    let routing = state
        .slots
        .iter()
        .find(|(key, _)| key.kind == SlotKind::Routing)
        .map(|(_, slot)| slot.source.plugin.name.clone());
    assert_eq!(routing.as_deref(), Some("table-policy"));

    // The host routes dead letters again after a reload, on its reload
    // thread; the routing table gives the note to the clinicians' pool.
    let deadline = std::time::Instant::now() + webdriver::WAIT;
    // Routed means an owner, not merely out of the dead letters: a retry
    // first returns the item to pending.
    while {
        let item = host.app.engine.item("southside", note).unwrap();
        item.is_dead_letter() || item.owner.is_none()
    } {
        assert!(
            std::time::Instant::now() < deadline,
            "the note is still a dead letter"
        );
        std::thread::yield_now();
    }
    let after = get("/console/sites/southside/admin", Some(ADMIN));
    assert!(after.body.contains("No dead letters"), "{}", after.body);
}

/// Names of the visible form controls of the page that have no label.
fn unlabelled_controls(browser: &Browser) -> Value {
    browser.execute(
        "return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')] \
           .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')) \
           .map(e => e.name || e.id);",
    )
}

/// True when the page fits the window's width, so nothing scrolls sideways.
fn fits_width(browser: &Browser) -> bool {
    browser
        .execute(
            "return document.documentElement.scrollWidth <= document.documentElement.clientWidth;",
        )
        .as_bool()
        .unwrap_or(false)
}

/// Returns the screenshot folder, `<target dir>/console-screenshots`, found
/// from the test executable at `<target dir>/<profile>/deps/console-<hash>`.
fn screenshot_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    exe.ancestors()
        .nth(3)
        .expect("the test runs from <target>/<profile>/deps")
        .join("console-screenshots")
}

#[test]
fn browser_works_the_console() {
    let shots = screenshot_dir();
    let browser = Browser::start();

    sign_in(&browser, ANA, &shots);
    claim_and_complete(&browser, &shots);
    item_page(&browser, &shots);
    refused_other_site(&browser, &shots);
    sign_out(&browser, &shots);

    sign_in(&browser, ADMIN, &shots);
    roll_back_routing(&browser, &shots);
    read_backlog(&browser, &shots);
    page_large_pool(&browser, &shots);

    println!("screenshots saved in {}", shots.display());
}

fn sign_in(browser: &Browser, token: &str, shots: &std::path::Path) {
    browser.goto(&host().url("/console/sign-in"));
    browser.screenshot(shots, "01-sign-in");

    assert_eq!(unlabelled_controls(browser), Value::Array(Vec::new()));
    let field = browser.find("#token");
    browser.type_text(&field, token);
    browser.click(&browser.find("form.sign-in button[type=submit]"));

    browser.wait_for_text("h1", "Sites");
    browser.screenshot(
        shots,
        &format!("02-sites-{}", if token == ANA { "staff" } else { "admin" }),
    );
}

fn claim_and_complete(browser: &Browser, shots: &std::path::Path) {
    let id = host().ana_items[0];
    browser.click(&browser.find("a[href='/console/sites/northside/worklist']"));
    browser.wait_for_text("h1", "My items");
    let row = format!("#item-{id}");
    browser.find(&row);
    browser.screenshot(shots, "03-my-items");
    let overdue_rows = browser.find_all("tr.overdue").len();
    let overdue_badges = browser.find_all("tr.overdue .badge").len();
    assert!(overdue_rows > 0, "the odd refills are overdue");
    assert_eq!(
        overdue_badges, overdue_rows,
        "every overdue row says so in text"
    );

    assert_eq!(unlabelled_controls(browser), Value::Array(Vec::new()));
    keyboard_reaches_main(browser);
    reflows_at_double_zoom(browser, shots);

    // Claim with the keyboard: Enter on the focused button sends the form.
    let claim = browser.find(&format!("{row} form[action$='/claim'] button"));
    browser.type_text(&claim, ENTER);
    browser.wait_for_text(".notice", &format!("Item {id} claimed; it is yours now."));
    let status = browser.text(&browser.find(&format!("{row} td[data-label=Status]")));
    assert!(status.starts_with("accepted"), "{status}");
    assert_eq!(status_of(id), ItemStatus::Accepted);

    browser.click(&browser.find(&format!("{row} form[action$='/complete'] button")));
    browser.wait_for_text(".notice", &format!("Item {id} completed."));
    browser.screenshot(shots, "04-item-completed");
    assert!(
        browser.find_all(&row).is_empty(),
        "item {id} is still listed"
    );
    assert_eq!(status_of(id), ItemStatus::Completed);
}

/// The first Tab reaches the skip link, and following it moves focus to
/// the main content.
fn keyboard_reaches_main(browser: &Browser) {
    browser.press(TAB);
    let focused = browser.execute("return document.activeElement.textContent;");
    assert_eq!(focused, Value::from("Skip to main content"));

    browser.press(ENTER);
    let focused = browser.execute("return document.activeElement.id;");
    assert_eq!(focused, Value::from("main"));
}

/// At 640 CSS pixels, which a 1280-pixel window shows at 200 % zoom, the
/// worklist reflows into cards instead of scrolling sideways.
fn reflows_at_double_zoom(browser: &Browser, shots: &std::path::Path) {
    assert!(fits_width(browser), "the worklist is wider than the window");

    browser.set_window(WINDOW.0 / 2, WINDOW.1);
    let fits = fits_width(browser);
    browser.screenshot_at_width(shots, "03-my-items-at-200-percent", WINDOW.0 / 2);
    browser.set_window(WINDOW.0, WINDOW.1);

    assert!(fits, "the worklist scrolls sideways at 640 CSS pixels");
}

fn item_page(browser: &Browser, shots: &std::path::Path) {
    let id = host().ana_items[1];
    browser.goto(&host().url(&item_path(id)));

    browser.wait_for_text("h1", &format!("Item {id}"));
    browser.find("form.reassign select#reassign-role");
    browser.screenshot(shots, "05-item-page");
    assert_eq!(unlabelled_controls(browser), Value::Array(Vec::new()));
    let history = browser.text(&browser.find("table.stack tbody"));
    assert!(history.contains("route"), "{history}");
}

fn refused_other_site(browser: &Browser, shots: &std::path::Path) {
    browser.goto(&host().url("/console/sites/southside/worklist"));

    let heading = browser.text(&browser.find("h1"));
    let alert = browser.text(&browser.find(".alert"));
    browser.screenshot(shots, "06-other-site-refused");
    assert_eq!(heading, "Forbidden");
    assert!(
        alert.contains("may not work items at site \"southside\""),
        "{alert}"
    );
}

fn sign_out(browser: &Browser, shots: &std::path::Path) {
    browser.goto(&host().url("/console"));
    browser.click(&browser.find("form.account button"));
    browser.wait_for_text(".notice", "You are signed out.");
    browser.screenshot(shots, "07-signed-out");

    browser.goto(&host().url("/console/sites/northside/worklist"));
    assert!(
        browser.url().contains("/console/sign-in?next="),
        "{}",
        browser.url()
    );
}

fn roll_back_routing(browser: &Browser, shots: &std::path::Path) {
    let host = host();
    browser.goto(&host.url("/console/sites/northside/admin"));
    let version = browser.text(&browser.find("#slot-routing .version"));
    browser.screenshot(shots, "08-admin-before-rollback");
    assert_eq!(unlabelled_controls(browser), Value::Array(Vec::new()));
    assert_eq!(version, host.new_routing);

    browser.click(&browser.find("#slot-routing form button"));
    browser.wait_for_text(
        ".notice",
        "Slot routing rolled back to its previous version.",
    );

    let version = browser.text(&browser.find("#slot-routing .version"));
    assert_eq!(version, host.old_routing);
    browser.wait_for_text(
        "#history-heading + table td[data-label=What]",
        "plugin.rolled-back",
    );
    browser.screenshot(shots, "09-admin-after-rollback");
    let state = host.app.sites.get("northside").unwrap().state();
    let routing = state
        .slots
        .iter()
        .find(|(key, _)| key.kind == SlotKind::Routing)
        .map(|(_, slot)| slot.source.plugin.version.clone());
    assert_eq!(routing.as_deref(), Some(host.old_routing.as_str()));
}

fn read_backlog(browser: &Browser, shots: &std::path::Path) {
    browser.goto(&host().url(
        "/console/sites/northside/backlog?baseline_from=2026-02-16&baseline_to=2026-03-01&pilot_from=2026-03-02&pilot_to=2026-03-15",
    ));
    browser.find("#days-to-close-median-summary");
    browser.screenshot(shots, "10-backlog-site");
    assert_eq!(unlabelled_controls(browser), Value::Array(Vec::new()));

    browser.click(&browser.find("#scope option[value='clinician:dr-lee']"));
    browser.click(&browser.find("form.filters button[type=submit]"));
    browser.wait_for_text("main > p", "Counting clinician dr-lee.");
    browser.screenshot(shots, "11-backlog-dr-lee");

    // Hand-computed in fixture::chart_events: 2.00 and 1.00 days to close,
    // 4 and 2 of 10 signatures after hours.
    let days = browser.text(&browser.find("#days-to-close-median-summary"));
    assert_eq!(
        days,
        "Baseline 2026-02-16 to 2026-03-01: 2.00 (10 signed charts). Pilot 2026-03-02 to 2026-03-15: 1.00 (10 signed charts). Change: -50.0 % (better)."
    );
    let after_hours = browser.text(&browser.find("#after-hours-signing-summary"));
    assert_eq!(
        after_hours,
        "Baseline 2026-02-16 to 2026-03-01: 40.0 % (10 signatures). Pilot 2026-03-02 to 2026-03-15: 20.0 % (10 signatures). Change: -50.0 % (better)."
    );
    let chart_title = browser.property(
        &browser.find("#days-to-close-median-heading ~ figure svg title"),
        "textContent",
    );
    assert_eq!(
        chart_title,
        Value::from("northside: Days to close (median)")
    );
}

fn page_large_pool(browser: &Browser, shots: &std::path::Path) {
    let counts = host().app.engine.counts("northside").unwrap();
    let rn = counts
        .roles
        .iter()
        .find(|(role, _)| role == "rn")
        .map(|(_, c)| c.open());
    assert_eq!(rn, Some(POOL_ITEMS as u32));

    browser.goto(&host().url("/console/sites/northside/pools/rn"));
    let timing = browser.execute(
        "const e = performance.getEntriesByType('navigation')[0]; \
         return { response: e.responseEnd - e.requestStart, dom: e.domContentLoadedEventEnd, load: e.loadEventEnd, bytes: e.decodedBodySize };",
    );
    browser.screenshot(shots, "12-pool-of-10000");
    println!(
        "pool page with {POOL_ITEMS} open items: request to last byte {:.0} ms, DOM ready at {:.0} ms, load at {:.0} ms, {} bytes of HTML",
        timing["response"].as_f64().unwrap_or(f64::NAN),
        timing["dom"].as_f64().unwrap_or(f64::NAN),
        timing["load"].as_f64().unwrap_or(f64::NAN),
        timing["bytes"]
    );
    let first_page = browser.find_all("table.worklist tbody tr");
    assert_eq!(first_page.len(), 50);
    let first_id = browser.property(&first_page[0], "id");

    browser.click(&browser.find("a[rel=next]"));
    browser.find("a[rel=first]");
    let second_page = browser.find_all("table.worklist tbody tr");
    assert_eq!(second_page.len(), 50);
    assert_ne!(browser.property(&second_page[0], "id"), first_id);
    browser.screenshot(shots, "13-pool-second-page");
}
