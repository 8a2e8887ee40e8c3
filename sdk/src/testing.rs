//! The native test harness: mock host imports and drivers that run a policy
//! or connector without building WebAssembly.
//!
//! Install a [`MockHost`] on the test's thread, then call the plugin through
//! [`PolicyHarness`] or [`ConnectorHarness`]. The mock keeps time, the site's
//! time zone, a key-value map, captured log lines and an HTTP handler.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;

use chrono_tz::Tz;

use crate::cases::CaseFile;
use crate::connector::Connector;
use crate::host::http::{HttpError, Request, Response};
use crate::host::{Date, Level, LocalTime, kv};
use crate::packed::{Outcome, OutcomeWriter, unpack_outcomes};
use crate::policy::Policy;
use crate::types::{
    Assignment, Batch, ConfigError, ConnectorError, PollResult, RouteContext, RouteError,
    RouteItem, Site, Timestamp,
};
use crate::zone::{from_local_in, local_time_in};

/// A captured log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// Severity.
    pub level: Level,
    /// Message.
    pub message: String,
    /// Structured fields.
    pub fields: Vec<(String, String)>,
}

type HttpHandler = Box<dyn FnMut(&Request) -> Result<Response, HttpError>>;

/// Mock host state for one test thread.
pub struct MockHost {
    now: Timestamp,
    zone: Tz,
    kv: BTreeMap<String, Vec<u8>>,
    logs: Vec<LogLine>,
    http: Option<HttpHandler>,
    requests: Vec<Request>,
}

impl std::fmt::Debug for MockHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockHost")
            .field("now", &self.now)
            .field("zone", &self.zone)
            .field("kv_keys", &self.kv.len())
            .finish_non_exhaustive()
    }
}

thread_local! {
    static MOCK: RefCell<Option<MockHost>> = const { RefCell::new(None) };
}

/// Removes the mock host from the thread when dropped.
#[derive(Debug)]
pub struct MockGuard(());

impl Drop for MockGuard {
    fn drop(&mut self) {
        MOCK.with(|m| *m.borrow_mut() = None);
    }
}

impl Default for MockHost {
    fn default() -> Self {
        Self::new()
    }
}

impl MockHost {
    /// A mock at 2026-01-05T15:00:00Z (a Monday) in UTC with no HTTP.
    pub fn new() -> Self {
        MockHost {
            now: Timestamp::parse_rfc3339("2026-01-05T15:00:00Z").unwrap_or_default(),
            zone: Tz::UTC,
            kv: BTreeMap::new(),
            logs: Vec::new(),
            http: None,
            requests: Vec::new(),
        }
    }

    /// Sets the current time.
    pub fn at(mut self, now: Timestamp) -> Self {
        self.now = now;
        self
    }

    /// Sets the site time zone by IANA name.
    ///
    /// # Panics
    ///
    /// When `name` is not an IANA zone, naming it.
    pub fn time_zone(mut self, name: &str) -> Self {
        self.zone = name.parse().unwrap_or_else(|_| {
            panic!("unknown time zone {name:?}; use an IANA name such as America/Chicago")
        });
        self
    }

    /// Answers HTTP requests with `handler`.
    pub fn http(
        mut self,
        handler: impl FnMut(&Request) -> Result<Response, HttpError> + 'static,
    ) -> Self {
        self.http = Some(Box::new(handler));
        self
    }

    /// Installs the mock on this thread until the guard drops.
    pub fn install(self) -> MockGuard {
        MOCK.with(|m| *m.borrow_mut() = Some(self));
        MockGuard(())
    }
}

fn with_mock<R>(f: impl FnOnce(&mut MockHost) -> R) -> R {
    MOCK.with(|m| {
        let mut slot = m.borrow_mut();
        let mock = slot.as_mut().expect("no mock host on this thread: call switchboard_sdk::testing::MockHost::new().install() first");
        f(mock)
    })
}

/// Moves the mock clock.
pub fn set_now(now: Timestamp) {
    with_mock(|m| m.now = now);
}

/// Log lines captured so far.
pub fn logs() -> Vec<LogLine> {
    with_mock(|m| m.logs.clone())
}

/// HTTP requests the plugin sent so far.
pub fn requests() -> Vec<Request> {
    with_mock(|m| m.requests.clone())
}

/// The key-value store's contents.
pub fn kv_contents() -> BTreeMap<String, Vec<u8>> {
    with_mock(|m| m.kv.clone())
}

/// The mock's side of [`crate::host`].
pub(crate) mod imports {
    use super::*;

    pub fn log(level: Level, message: &str, fields: &[(&str, &str)]) {
        with_mock(|m| {
            m.logs.push(LogLine {
                level,
                message: message.to_string(),
                fields: fields
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            })
        });
    }

    pub fn now() -> Timestamp {
        with_mock(|m| m.now)
    }

    pub fn to_local(at: Timestamp) -> LocalTime {
        with_mock(|m| local_time_in(m.zone, at))
    }

    pub fn from_local(date: Date, minute: u16) -> Timestamp {
        with_mock(|m| from_local_in(m.zone, date, minute))
    }

    pub fn kv_get(key: &str) -> Result<Option<Vec<u8>>, kv::KvError> {
        with_mock(|m| Ok(m.kv.get(key).cloned()))
    }

    pub fn kv_set(key: &str, value: &[u8]) -> Result<(), kv::KvError> {
        if key.len() > kv::MAX_KEY_BYTES || value.len() > kv::MAX_VALUE_BYTES {
            return Err(kv::KvError::TooLarge(format!(
                "key of {} bytes, value of {} bytes",
                key.len(),
                value.len()
            )));
        }
        with_mock(|m| {
            m.kv.insert(key.to_string(), value.to_vec());
            Ok(())
        })
    }

    pub fn kv_delete(key: &str) -> Result<(), kv::KvError> {
        with_mock(|m| {
            m.kv.remove(key);
            Ok(())
        })
    }

    pub fn http_send(request: &Request) -> Result<Response, HttpError> {
        let mut handler = with_mock(|m| {
            m.requests.push(request.clone());
            m.http.take()
        })
        .ok_or_else(|| {
            HttpError::Denied(format!(
                "{}: the mock host has no HTTP handler; add one with MockHost::http",
                request.url
            ))
        })?;
        // The handler runs outside the borrow so it may call other mock functions.
        let response = handler(request);
        with_mock(|m| m.http = Some(handler));
        response
    }
}

/// Runs a [`Policy`] natively on a mock host.
#[derive(Debug)]
pub struct PolicyHarness<P> {
    policy: P,
    site: Site,
    _guard: MockGuard,
}

impl<P: Policy> PolicyHarness<P> {
    /// Parses the site file text, installs a mock host in the site's time
    /// zone at `now`, and configures the policy.
    ///
    /// # Errors
    ///
    /// The site's or the policy's [`ConfigError`].
    pub fn new(site_text: &str, config: &str, now: Timestamp) -> Result<Self, ConfigError> {
        let site = crate::site::parse_site(site_text)?;
        let guard = MockHost::new().at(now).time_zone(&site.time_zone).install();
        let policy = P::configure(site.clone(), config)?;
        Ok(PolicyHarness {
            policy,
            site,
            _guard: guard,
        })
    }

    /// The site the policy was configured with.
    pub fn site(&self) -> &Site {
        &self.site
    }

    /// Routes one item.
    ///
    /// # Errors
    ///
    /// The policy's [`RouteError`].
    pub fn route(
        &mut self,
        item: &RouteItem,
        context: &RouteContext,
    ) -> Result<Assignment, RouteError> {
        set_now(context.now);
        self.policy.route(item, context)
    }

    /// Routes a batch the way the host does through a component: with
    /// [`Policy::route_into`], reading back what it wrote.
    ///
    /// # Panics
    ///
    /// When `route_into` writes an outcome the layout cannot hold, which
    /// the SDK's writer never does.
    pub fn route_packed(&mut self, items: &[RouteItem], context: &RouteContext) -> Vec<Outcome> {
        set_now(context.now);
        let mut out = OutcomeWriter::with_capacity(0);
        self.policy.route_into(items, context, &mut out);
        unpack_outcomes(&out.into_bytes()).expect("the outcome writer writes the packed layout")
    }

    /// The policy itself, for calls the harness does not wrap, such as
    /// `nudges` or `prepare`.
    pub fn policy(&mut self) -> &mut P {
        &mut self.policy
    }

    /// Runs every case in a case file and returns the mismatches.
    ///
    /// Each case is routed with [`Policy::route`] and checked against its
    /// expectations, and also routed as a one-item batch through
    /// [`PolicyHarness::route_packed`], the path a component takes in the
    /// host. A policy whose `route_into` gives another outcome than its
    /// `route` fails the case.
    ///
    /// # Panics
    ///
    /// When the file cannot be loaded or configured, naming why.
    pub fn run_case_file(path: impl AsRef<Path>) -> Vec<String> {
        let file = CaseFile::load(path.as_ref()).unwrap_or_else(|e| panic!("{e}"));
        let mut harness = Self::new(&file.site_text, &file.config_text, file.now)
            .unwrap_or_else(|e| panic!("{}: {e}", file.path.display()));
        let mut failures = Vec::new();
        for case in &file.cases {
            let outcome = harness.route(&case.item, &case.context);
            if let Err(mismatch) = case.check(&outcome) {
                failures.push(mismatch);
            }

            let packed = harness.route_packed(std::slice::from_ref(&case.item), &case.context);
            if packed.as_slice() != std::slice::from_ref(&outcome) {
                failures.push(format!(
                    "case {:?}: route_into wrote {packed:?}, route returned {outcome:?}",
                    case.name
                ));
            }
        }
        failures
    }
}

/// Runs a [`Connector`] natively on a mock host.
#[derive(Debug)]
pub struct ConnectorHarness<C> {
    connector: C,
    _guard: MockGuard,
}

impl<C: Connector> ConnectorHarness<C> {
    /// Installs `mock` and configures the connector with `config`.
    ///
    /// # Errors
    ///
    /// The connector's [`ConfigError`].
    pub fn new(mock: MockHost, config: &str) -> Result<Self, ConfigError> {
        let guard = mock.install();
        let connector = C::configure(config)?;
        Ok(ConnectorHarness {
            connector,
            _guard: guard,
        })
    }

    /// Maps one message.
    ///
    /// # Errors
    ///
    /// The connector's [`ConnectorError`].
    pub fn accept(&mut self, message: &[u8], content_type: &str) -> Result<Batch, ConnectorError> {
        self.connector.accept(message, content_type)
    }

    /// Polls once.
    ///
    /// # Errors
    ///
    /// The connector's [`ConnectorError`].
    pub fn poll(&mut self, cursor: Option<&str>) -> Result<PollResult, ConnectorError> {
        self.connector.poll(cursor)
    }

    /// The connector itself.
    pub fn connector(&mut self) -> &mut C {
        &mut self.connector
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zone::{from_local_in, local_time_in};

    #[test]
    fn local_time_follows_daylight_saving() {
        let zone: Tz = "America/Chicago".parse().unwrap();
        // 2026-03-08 is the US spring-forward day: 02:00 CST becomes 03:00 CDT.
        let before = Timestamp::parse_rfc3339("2026-03-08T07:30:00Z").unwrap();
        let after = Timestamp::parse_rfc3339("2026-03-08T08:30:00Z").unwrap();

        assert_eq!(local_time_in(zone, before).minute, 90);
        assert_eq!(local_time_in(zone, before).offset_minutes, -360);
        assert_eq!(local_time_in(zone, after).minute, 210);
        assert_eq!(local_time_in(zone, after).offset_minutes, -300);
    }

    #[test]
    fn skipped_local_time_moves_forward() {
        let zone: Tz = "America/Chicago".parse().unwrap();
        let date = Date {
            year: 2026,
            month: 3,
            day: 8,
        };

        let at = from_local_in(zone, date, 2 * 60 + 30);

        assert_eq!(
            at,
            Timestamp::parse_rfc3339("2026-03-08T08:00:00Z").unwrap()
        );
    }

    #[test]
    fn repeated_local_time_takes_first() {
        let zone: Tz = "America/Chicago".parse().unwrap();
        // 2026-11-01: 01:30 happens twice, first in CDT (UTC-5).
        let date = Date {
            year: 2026,
            month: 11,
            day: 1,
        };

        let at = from_local_in(zone, date, 90);

        assert_eq!(
            at,
            Timestamp::parse_rfc3339("2026-11-01T06:30:00Z").unwrap()
        );
    }

    #[test]
    fn kv_rejects_oversized_value() {
        let _guard = MockHost::new().install();

        let error = kv::set("k", &vec![0u8; kv::MAX_VALUE_BYTES + 1]).unwrap_err();

        assert!(matches!(error, kv::KvError::TooLarge(_)));
    }
}
