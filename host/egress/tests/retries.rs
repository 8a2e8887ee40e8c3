//! Retries, the rate limit and the call deadline. Waits go through the
//! manual clock, so these tests never sleep.

mod common;

use std::time::Duration;

use common::*;
use mock_ehr::Fault;
use serde_json::json;
use switchboard_egress::{Egress, EgressError, EgressRequest, RateLimit, RetryPolicy};

fn open_ehr(s: &Setup) {
    s.ehr.set_require_auth(false);
    s.ehr.put(json!({"resourceType": "Patient", "id": "p1"}));
}

#[test]
fn too_many_requests_honours_retry_after() {
    let s = setup();
    open_ehr(&s);
    s.ehr.inject(Fault::too_many_requests(2));
    let egress = Egress::new(config(&s.ehr), s.shared.clone()).unwrap();

    let response = egress.send(get(&s.ehr, "/Patient/p1")).unwrap();

    assert_eq!(response.status, 200);
    assert_eq!(s.clock.sleeps(), vec![seconds(2)]);
    assert_eq!(s.ehr.requests().len(), 2);
}

#[test]
fn retry_after_http_date_honoured() {
    let s = setup();
    open_ehr(&s);
    let when = s.clock_wall_plus(seconds(5));
    s.ehr
        .inject(Fault::status(503).retry_after(&httpdate::fmt_http_date(when)));
    let egress = Egress::new(config(&s.ehr), s.shared.clone()).unwrap();

    let response = egress.send(get(&s.ehr, "/Patient/p1")).unwrap();

    let slept = s.clock.sleeps();
    assert_eq!(response.status, 200);
    assert_eq!(slept.len(), 1);
    // An HTTP date has whole seconds, so the wait is between 4 and 5 s.
    assert!(slept[0] > seconds(4), "{slept:?}");
    assert!(slept[0] <= seconds(5), "{slept:?}");
}

#[test]
fn long_retry_after_holds_next_call() {
    let s = setup();
    open_ehr(&s);
    s.ehr.inject(Fault::too_many_requests(120));
    let mut config = config(&s.ehr);
    config.deadline = seconds(30);
    let egress = Egress::new(config, s.shared.clone()).unwrap();

    let first = egress.send(get(&s.ehr, "/Patient/p1")).unwrap_err();
    s.clock.advance(seconds(60));
    let during_hold = egress.send(get(&s.ehr, "/Patient/p1")).unwrap_err();
    let requests_during_hold = s.ehr.requests().len();
    s.clock.advance(seconds(60));
    let after = egress.send(get(&s.ehr, "/Patient/p1")).unwrap();

    assert!(
        matches!(&first, EgressError::TimedOut(m) if m.contains("HTTP 429")),
        "{first:?}"
    );
    assert!(
        matches!(&during_hold, EgressError::RateLimited(m) if m.contains("Retry-After to another 60 s")),
        "{during_hold:?}"
    );
    assert_eq!(
        requests_during_hold, 1,
        "the call during the hold sent nothing"
    );
    assert_eq!(after.status, 200);
    assert!(s.clock.sleeps().is_empty());
}

#[test]
fn short_hold_waited_out_by_next_call() {
    let s = setup();
    open_ehr(&s);
    s.ehr.inject(Fault::too_many_requests(40));
    let mut config = config(&s.ehr);
    config.deadline = seconds(30);
    let egress = Egress::new(config, s.shared.clone()).unwrap();

    egress.send(get(&s.ehr, "/Patient/p1")).unwrap_err();
    s.clock.advance(seconds(25));
    let response = egress.send(get(&s.ehr, "/Patient/p1")).unwrap();

    assert_eq!(response.status, 200);
    assert_eq!(s.clock.sleeps(), vec![seconds(15)]);
    assert_eq!(s.ehr.requests().len(), 2);
}

#[test]
fn hold_applies_to_same_site_only() {
    let s = setup();
    open_ehr(&s);
    s.ehr.inject(Fault::too_many_requests(120));
    let mut north_config = config(&s.ehr);
    north_config.deadline = seconds(30);
    let mut south_config = north_config.clone();
    south_config.site = "southside".to_string();
    let north = Egress::new(north_config, s.shared.clone()).unwrap();
    let south = Egress::new(south_config, s.shared.clone()).unwrap();
    let south_request = EgressRequest {
        site: "southside".to_string(),
        ..get(&s.ehr, "/Patient/p1")
    };

    north.send(get(&s.ehr, "/Patient/p1")).unwrap_err();
    let response = south.send(south_request).unwrap();

    assert_eq!(response.status, 200);
    assert_eq!(s.ehr.requests().len(), 2);
}

#[test]
fn server_errors_retried_with_backoff() {
    let s = setup();
    open_ehr(&s);
    s.ehr.inject(Fault::status(502).times(2));
    let egress = Egress::new(config(&s.ehr), s.shared.clone()).unwrap();

    let response = egress.send(get(&s.ehr, "/Patient/p1")).unwrap();

    // The default policy starts at 500 ms and doubles, and jitter keeps at
    // least half of each wait.
    let slept = s.clock.sleeps();
    assert_eq!(response.status, 200);
    assert_eq!(slept.len(), 2);
    assert!(slept[0] >= Duration::from_millis(250), "{slept:?}");
    assert!(slept[0] < Duration::from_millis(500), "{slept:?}");
    assert!(slept[1] >= Duration::from_millis(500), "{slept:?}");
    assert!(slept[1] < Duration::from_millis(1000), "{slept:?}");
}

#[test]
fn server_errors_give_up_within_deadline() {
    let s = setup();
    open_ehr(&s);
    s.ehr.inject(Fault::status(503).times(1000));
    let mut config = config(&s.ehr);
    config.deadline = seconds(5);
    config.retry = RetryPolicy {
        max_attempts: 50,
        base_delay: seconds(1),
        max_delay: seconds(4),
        jitter_seed: Some(3),
    };
    let egress = Egress::new(config, s.shared.clone()).unwrap();

    let error = egress.send(get(&s.ehr, "/Patient/p1")).unwrap_err();

    let slept: Duration = s.clock.sleeps().iter().sum();
    assert!(
        matches!(&error, EgressError::TimedOut(m) if m.contains("HTTP 503")),
        "{error:?}"
    );
    assert!(slept < seconds(5), "slept {slept:?}");
    assert_eq!(s.ehr.requests().len(), s.clock.sleeps().len() + 1);
}

#[test]
fn attempts_run_out() {
    let s = setup();
    open_ehr(&s);
    s.ehr.inject(Fault::status(500).times(10));
    let mut config = config(&s.ehr);
    config.retry.max_attempts = 3;
    let egress = Egress::new(config, s.shared.clone()).unwrap();

    let error = egress.send(get(&s.ehr, "/Patient/p1")).unwrap_err();

    assert!(
        matches!(&error, EgressError::TimedOut(m) if m.contains("on 3 attempts")),
        "{error:?}"
    );
    assert_eq!(s.ehr.requests().len(), 3);
}

#[test]
fn post_not_retried_on_500() {
    let s = setup();
    open_ehr(&s);
    s.ehr.inject(Fault::operation_outcome(
        500,
        "exception",
        "database unavailable",
    ));
    let egress = Egress::new(config(&s.ehr), s.shared.clone()).unwrap();
    let request = EgressRequest {
        method: "POST".to_string(),
        body: br#"{"resourceType":"Task"}"#.to_vec(),
        ..get(&s.ehr, "/Task")
    };

    let response = egress.send(request).unwrap();

    let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(response.status, 500);
    assert_eq!(body["issue"][0]["diagnostics"], "database unavailable");
    assert_eq!(s.ehr.requests().len(), 1);
}

#[test]
fn client_errors_returned_untouched() {
    let s = setup();
    open_ehr(&s);
    let egress = Egress::new(config(&s.ehr), s.shared.clone()).unwrap();

    let response = egress.send(get(&s.ehr, "/Patient/missing")).unwrap();

    assert_eq!(response.status, 404);
    assert_eq!(s.ehr.requests().len(), 1);
    assert!(s.clock.sleeps().is_empty());
}

#[test]
fn connection_refused_retried_then_reported() {
    let s = setup();
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut config = config(&s.ehr);
    config.http_hosts = vec![format!("127.0.0.1:{port}")];
    config.retry.max_attempts = 2;
    let egress = Egress::new(config, s.shared.clone()).unwrap();
    let request = EgressRequest::get(
        SITE,
        PLUGIN,
        &format!("http://127.0.0.1:{port}/fhir/Patient/p1"),
    );

    let error = egress.send(request).unwrap_err();

    assert!(matches!(error, EgressError::Transport(_)), "{error:?}");
    assert_eq!(s.clock.sleeps().len(), 1);
}

#[test]
fn rate_limit_spaces_requests() {
    // 7 per minute with a burst of 1 refills 6 per minute: one every 10 s.
    let s = setup();
    open_ehr(&s);
    let mut config = config(&s.ehr);
    config.rate = RateLimit {
        per_minute: 7,
        burst: 1,
    };
    let egress = Egress::new(config, s.shared.clone()).unwrap();

    for _ in 0..3 {
        egress.send(get(&s.ehr, "/Patient/p1")).unwrap();
    }

    assert_eq!(s.clock.sleeps(), vec![seconds(10), seconds(10)]);
    assert_eq!(s.ehr.requests().len(), 3);
}

#[test]
fn rate_limit_past_deadline_refused() {
    let s = setup();
    open_ehr(&s);
    let mut config = config(&s.ehr);
    config.rate = RateLimit {
        per_minute: 7,
        burst: 1,
    };
    config.deadline = seconds(5);
    let egress = Egress::new(config, s.shared.clone()).unwrap();
    egress.send(get(&s.ehr, "/Patient/p1")).unwrap();

    let error = egress.send(get(&s.ehr, "/Patient/p1")).unwrap_err();

    assert!(
        matches!(&error, EgressError::RateLimited(m) if m.contains("northside")),
        "{error:?}"
    );
    assert_eq!(s.ehr.requests().len(), 1);
    assert!(s.clock.sleeps().is_empty());
}

#[test]
fn rate_limit_shared_by_site() {
    let s = setup();
    open_ehr(&s);
    let mut first = config(&s.ehr);
    first.rate = RateLimit {
        per_minute: 7,
        burst: 1,
    };
    first.deadline = seconds(5);
    let mut second = first.clone();
    second.plugin = "hl7-connector".to_string();
    let fhir = Egress::new(first, s.shared.clone()).unwrap();
    let hl7 = Egress::new(second, s.shared.clone()).unwrap();
    fhir.send(get(&s.ehr, "/Patient/p1")).unwrap();

    let mut request = get(&s.ehr, "/Patient/p1");
    request.plugin = "hl7-connector".to_string();
    let error = hl7.send(request).unwrap_err();

    assert!(matches!(error, EgressError::RateLimited(_)), "{error:?}");
}

#[test]
fn rate_limit_separate_per_site() {
    let s = setup();
    open_ehr(&s);
    let mut north = config(&s.ehr);
    north.rate = RateLimit {
        per_minute: 7,
        burst: 1,
    };
    north.deadline = seconds(5);
    let mut south = north.clone();
    south.site = "southside".to_string();
    let north = Egress::new(north, s.shared.clone()).unwrap();
    let south = Egress::new(south, s.shared.clone()).unwrap();
    north.send(get(&s.ehr, "/Patient/p1")).unwrap();

    let mut request = get(&s.ehr, "/Patient/p1");
    request.site = "southside".to_string();
    let response = south.send(request).unwrap();

    assert_eq!(response.status, 200);
}

trait WallPlus {
    fn clock_wall_plus(&self, by: Duration) -> std::time::SystemTime;
}

impl WallPlus for Setup {
    fn clock_wall_plus(&self, by: Duration) -> std::time::SystemTime {
        use switchboard_egress::Clock as _;
        self.clock.wall() + by
    }
}

#[test]
fn failed_page_retried_through_next_link() {
    let s = setup();
    open_ehr(&s);
    for id in ["o1", "o2", "o3"] {
        s.ehr.put(json!({"resourceType": "Observation", "id": id}));
    }
    s.ehr.inject(Fault::status(500).on_page(2));
    let egress = Egress::new(config(&s.ehr), s.shared.clone()).unwrap();
    let first = egress.send(get(&s.ehr, "/Observation?_count=2")).unwrap();
    let bundle: serde_json::Value = serde_json::from_slice(&first.body).unwrap();
    let next = bundle["link"][1]["url"].as_str().unwrap();

    let second = egress.send(EgressRequest::get(SITE, PLUGIN, next)).unwrap();

    let page: serde_json::Value = serde_json::from_slice(&second.body).unwrap();
    let statuses: Vec<u16> = s.ehr.requests().iter().map(|r| r.status).collect();
    assert_eq!(page["entry"][0]["resource"]["id"], "o3");
    assert_eq!(statuses, vec![200, 500, 200]);
}
