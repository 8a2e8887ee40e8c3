//! A small W3C WebDriver client over Debian's headless Chromium.
//!
//! [`Browser::start`] makes sure `chromium` and `chromium-driver` are
//! installed, installing them with apt-get when the test runs as root on
//! Debian. It starts `chromedriver` on a free loopback port and opens a
//! session whose Chromium has a fresh profile and sends nothing beyond
//! loopback. Only the commands the console tests use are here.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

/// Chromium from Debian's `chromium` package.
const CHROMIUM: &str = "/usr/bin/chromium";
/// The driver from Debian's `chromium-driver` package.
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The key W3C WebDriver uses for element references.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The WebDriver code of the Tab key.
pub const TAB: &str = "\u{E004}";
/// The WebDriver code of the Enter key.
pub const ENTER: &str = "\u{E007}";

/// The window size, in CSS pixels: a common laptop screen.
pub const WINDOW: (u32, u32) = (1280, 900);

/// Whole-page screenshots stop at this height, in CSS pixels.
const MAX_SCREENSHOT_HEIGHT: u64 = 12_000;

/// How long to wait for the driver to start and for elements to appear.
/// Generous because the machine may be building other crates meanwhile.
pub const WAIT: Duration = Duration::from_secs(60);

/// Chromium flags: headless, a throwaway profile, and no traffic to
/// update, sync, metrics or safe-browsing servers.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-breakpad",
    "--disable-client-side-phishing-detection",
    "--disable-domain-reliability",
    "--no-first-run",
    "--no-default-browser-check",
    "--no-pings",
    "--no-proxy-server",
    "--metrics-recording-only",
];

/// Makes sure Chromium and its driver are installed.
///
/// # Panics
///
/// When they are missing and cannot be installed here, naming the packages.
pub fn ensure_installed() {
    if Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists() {
        return;
    }
    let debian = Path::new("/etc/debian_version").exists();
    if !(debian && running_as_root()) {
        panic!(
            "the console's browser tests need {CHROMIUM} and {CHROMEDRIVER}; install the Debian packages `chromium` and `chromium-driver` (apt-get install -y chromium chromium-driver) and run the tests again"
        );
    }

    eprintln!(
        "installing chromium and chromium-driver with apt-get for the console's browser tests"
    );
    run_apt(&["update"]);
    run_apt(&["install", "-y", "chromium", "chromium-driver"]);
    assert!(
        Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists(),
        "apt-get installed chromium and chromium-driver but {CHROMIUM} or {CHROMEDRIVER} is still missing"
    );
}

fn run_apt(args: &[&str]) {
    let status = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .unwrap_or_else(|e| panic!("failed to run apt-get {}: {e}", args.join(" ")));
    assert!(
        status.success(),
        "apt-get {} failed with {status}; install chromium and chromium-driver by hand",
        args.join(" ")
    );
}

fn running_as_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().next())
        == Some("0")
}

/// A page element, as the driver names it.
#[derive(Clone, Debug)]
pub struct Element(String);

/// A Chromium session driven through chromedriver.
pub struct Browser {
    agent: ureq::Agent,
    /// `http://127.0.0.1:<port>/session/<id>`.
    session: String,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session.
    pub fn start() -> Browser {
        ensure_installed();
        let port = free_port();
        let mut driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("failed to start {CHROMEDRIVER}: {e}"));
        wait_until_listening(&mut driver);

        let agent = agent();
        let profile = tempfile::tempdir().expect("a temporary profile folder");
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        args.push(format!("--window-size={},{}", WINDOW.0, WINDOW.1));
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": { "binary": CHROMIUM, "args": args }
                }
            }
        });
        let base = format!("http://127.0.0.1:{port}");
        let value = send(
            &agent,
            "POST",
            &format!("{base}/session"),
            Some(capabilities),
        )
        .unwrap_or_else(|error| panic!("{error}"));
        let id = value["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromedriver returned no session id: {value}"));
        Browser {
            agent,
            session: format!("{base}/session/{id}"),
            driver,
            _profile: profile,
        }
    }

    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_command(method, path, body)
            .unwrap_or_else(|error| panic!("{error}"))
    }

    fn try_command(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let body = body.or_else(|| (method == "POST").then(|| json!({})));
        send(
            &self.agent,
            method,
            &format!("{}{path}", self.session),
            body,
        )
    }

    /// Opens `url` and waits for it to load.
    pub fn goto(&self, url: &str) {
        self.command("POST", "/url", Some(json!({ "url": url })));
    }

    /// Returns the address of the current page.
    pub fn url(&self) -> String {
        self.command("GET", "/url", None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Returns every element matching the CSS `selector`, now.
    pub fn find_all(&self, selector: &str) -> Vec<Element> {
        let value = self.command(
            "POST",
            "/elements",
            Some(json!({ "using": "css selector", "value": selector })),
        );
        value
            .as_array()
            .map(|found| {
                found
                    .iter()
                    .filter_map(|e| e[ELEMENT_KEY].as_str())
                    .map(|id| Element(id.to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits up to [`WAIT`] for an element matching `selector`.
    pub fn find(&self, selector: &str) -> Element {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(element) = self.find_all(selector).into_iter().next() {
                return element;
            }
            assert!(
                Instant::now() < deadline,
                "no element matches {selector:?} on {} within {WAIT:?}",
                self.url()
            );
        }
    }

    /// Waits up to [`WAIT`] until the text of `selector` contains `expected`.
    pub fn wait_for_text(&self, selector: &str, expected: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            // An element can go stale when the page navigates between the
            // search and the read; the next round searches again.
            let texts: Vec<String> = self
                .find_all(selector)
                .iter()
                .filter_map(|e| {
                    self.try_command("GET", &format!("/element/{}/text", e.0), None)
                        .ok()
                })
                .map(|value| value.as_str().unwrap_or_default().to_string())
                .collect();
            if let Some(text) = texts.iter().find(|t| t.contains(expected)) {
                return text.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no {selector:?} on {} contains {expected:?} within {WAIT:?}; found {texts:?}",
                self.url()
            );
        }
    }

    /// Clicks `element`.
    pub fn click(&self, element: &Element) {
        self.command("POST", &format!("/element/{}/click", element.0), None);
    }

    /// Types `text` into `element`.
    pub fn type_text(&self, element: &Element, text: &str) {
        self.command(
            "POST",
            &format!("/element/{}/value", element.0),
            Some(json!({ "text": text })),
        );
    }

    /// Returns the rendered text of `element`.
    pub fn text(&self, element: &Element) -> String {
        self.command("GET", &format!("/element/{}/text", element.0), None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Returns a DOM property of `element`, such as `textContent`.
    pub fn property(&self, element: &Element, name: &str) -> Value {
        self.command(
            "GET",
            &format!("/element/{}/property/{name}", element.0),
            None,
        )
    }

    /// Runs `script` in the page and returns its result.
    pub fn execute(&self, script: &str) -> Value {
        self.command(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
    }

    /// Resizes the browser window, in CSS pixels.
    pub fn set_window(&self, width: u32, height: u32) {
        self.command(
            "POST",
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        );
    }

    /// Presses and releases one key, such as [`TAB`], on whatever has focus.
    pub fn press(&self, key: &str) {
        let actions = json!({
            "actions": [{
                "type": "key",
                "id": "keyboard",
                "actions": [
                    { "type": "keyDown", "value": key },
                    { "type": "keyUp", "value": key }
                ]
            }]
        });
        self.command("POST", "/actions", Some(actions));
    }

    /// Saves a PNG of the whole page as `dir/name.png`: the window grows to
    /// the page's height for the shot, then returns to [`WINDOW`].
    pub fn screenshot(&self, dir: &Path, name: &str) -> PathBuf {
        self.screenshot_at_width(dir, name, WINDOW.0)
    }

    /// As [`Browser::screenshot`], with the window `width` CSS pixels wide.
    pub fn screenshot_at_width(&self, dir: &Path, name: &str, width: u32) -> PathBuf {
        let height = self
            .execute("window.scrollTo(0, 0); return document.documentElement.scrollHeight;")
            .as_u64()
            .unwrap_or(u64::from(WINDOW.1))
            .clamp(u64::from(WINDOW.1), MAX_SCREENSHOT_HEIGHT);
        self.set_window(width, u32::try_from(height).unwrap_or(WINDOW.1));
        let encoded = self.command("GET", "/screenshot", None);
        self.set_window(WINDOW.0, WINDOW.1);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap_or_default())
            .expect("the screenshot is base64");
        std::fs::create_dir_all(dir).expect("the screenshot folder can be created");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, bytes).expect("the screenshot can be written");
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let closed = self
            .agent
            .delete(&self.session)
            .call()
            .map(|_| ())
            .map_err(|e| e.to_string());
        if let Err(error) = closed {
            eprintln!("failed to close the browser session: {error}");
        }
        if let Err(error) = self.driver.kill() {
            eprintln!("failed to stop chromedriver: {error}");
        }
        let _ = self.driver.wait();
    }
}

/// Builds an HTTP client for loopback only: no proxy, no redirects followed, and
/// error statuses returned as responses.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .proxy(None)
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

/// Sends one WebDriver command and returns its `value`, or the driver's
/// error as text.
fn send(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    body: Option<Value>,
) -> Result<Value, String> {
    let response = match (method, body) {
        ("GET", _) => agent.get(url).call(),
        ("DELETE", _) => agent.delete(url).call(),
        (_, body) => agent
            .post(url)
            .header("Content-Type", "application/json")
            .send(body.unwrap_or_else(|| json!({})).to_string()),
    };
    let mut response = response.map_err(|e| format!("WebDriver {method} {url} failed: {e}"))?;
    let status = response.status();
    let text = response
        .body_mut()
        .with_config()
        .limit(256 * 1024 * 1024)
        .read_to_string()
        .map_err(|e| format!("WebDriver {method} {url}: unreadable reply: {e}"))?;
    let reply: Value = serde_json::from_str(&text)
        .map_err(|e| format!("WebDriver {method} {url}: reply is not JSON ({e}): {text}"))?;
    if !status.is_success() {
        return Err(format!(
            "WebDriver {method} {url} failed with {status}: {} {}",
            reply["value"]["error"], reply["value"]["message"]
        ));
    }
    Ok(reply["value"].clone())
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    listener.local_addr().expect("a bound address").port()
}

/// Reads chromedriver's output until it reports that it listens. Blocks on the
/// pipe rather than polling the port.
fn wait_until_listening(driver: &mut Child) {
    let stdout = driver
        .stdout
        .take()
        .expect("chromedriver's stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.expect("chromedriver's output is readable");
        if line.contains("started successfully") {
            // Keep draining the pipe so chromedriver never blocks on a full one.
            std::thread::spawn(move || lines.for_each(drop));
            return;
        }
    }
    panic!("chromedriver exited before it started listening");
}
