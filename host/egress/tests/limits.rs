//! Response size and slow servers.

mod common;

use std::time::Duration;

use common::*;
use mock_ehr::Fault;
use switchboard_egress::{Egress, EgressError};

#[test]
fn declared_oversized_body_refused() {
    let s = setup();
    s.ehr.set_require_auth(false);
    s.ehr.inject(Fault::large_body(50_000, false));
    let mut config = config(&s.ehr);
    config.max_response_bytes = 10_000;
    let egress = Egress::new(config, s.shared.clone()).unwrap();

    let error = egress.send(get(&s.ehr, "/Patient/p1")).unwrap_err();

    assert!(
        matches!(&error, EgressError::TooLarge(m) if m.contains("50000")),
        "{error:?}"
    );
}

#[test]
fn chunked_oversized_body_refused() {
    let s = setup();
    s.ehr.set_require_auth(false);
    s.ehr.inject(Fault::large_body(50_000, true));
    let mut config = config(&s.ehr);
    config.max_response_bytes = 10_000;
    let egress = Egress::new(config, s.shared.clone()).unwrap();

    let error = egress.send(get(&s.ehr, "/Patient/p1")).unwrap_err();

    assert!(
        matches!(&error, EgressError::TooLarge(m) if m.contains("10000 byte limit")),
        "{error:?}"
    );
}

#[test]
fn body_at_limit_accepted() {
    let s = setup();
    s.ehr.set_require_auth(false);
    s.ehr.inject(Fault::large_body(10_000, true));
    let mut config = config(&s.ehr);
    config.max_response_bytes = 10_000;
    let egress = Egress::new(config, s.shared.clone()).unwrap();

    let response = egress.send(get(&s.ehr, "/Patient/p1")).unwrap();

    assert_eq!(response.body.len(), 10_000);
}

#[test]
fn slow_server_times_out() {
    // The only test here that waits in real time: the socket timeout.
    let s = setup();
    s.ehr.set_require_auth(false);
    s.ehr.inject(Fault::slow(Duration::from_secs(5)));
    let mut config = config(&s.ehr);
    config.deadline = Duration::from_millis(300);
    let egress = Egress::new(config, s.shared.clone()).unwrap();

    let error = egress.send(get(&s.ehr, "/Patient/p1")).unwrap_err();

    assert!(matches!(error, EgressError::TimedOut(_)), "{error:?}");
}
