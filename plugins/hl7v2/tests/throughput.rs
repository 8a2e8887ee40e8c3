//! Throughput of parse and mapping, printed rather than asserted because a
//! timing depends on the machine. Run it in release mode:
//!
//! ```text
//! cargo test --release -p hl7v2-connector --test throughput -- --ignored --nocapture
//! ```

use std::time::Instant;

use hl7v2_connector::Hl7v2Connector;
use switchboard_sdk::Connector;
use switchboard_sdk::testing::MockHost;

const MESSAGES: usize = 200_000;

fn fixture(name: &str) -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
    std::fs::read(format!("{path}{name}")).unwrap()
}

#[test]
#[ignore = "prints a measurement; run in release mode with --ignored --nocapture"]
fn oru_messages_per_second() {
    let _host = MockHost::new().time_zone("America/Chicago").install();
    let mut connector = Hl7v2Connector::configure("").unwrap();
    for name in ["oru_r01_abnormal.hl7", "oru_r01_critical_crlf.hl7"] {
        let message = fixture(name);
        let mut items = 0;

        let start = Instant::now();
        for _ in 0..MESSAGES {
            items += connector
                .accept(&message, "application/hl7-v2")
                .unwrap()
                .items
                .len();
        }
        let elapsed = start.elapsed();

        let rate = MESSAGES as f64 / elapsed.as_secs_f64();
        println!(
            "{name}: {} bytes, {items} items from {MESSAGES} messages in {elapsed:?}: {rate:.0} messages/s",
            message.len()
        );
    }
}

#[test]
#[ignore = "prints a measurement; run in release mode with --ignored --nocapture"]
fn parse_only_per_second() {
    let message = fixture("oru_r01_abnormal.hl7");
    let mut segments = 0;

    let start = Instant::now();
    for _ in 0..MESSAGES {
        let envelope = hl7v2_connector::parse::split_batch(&message).unwrap();
        let text = hl7v2_connector::parse::decode(envelope.messages[0].bytes).unwrap();
        segments += hl7v2_connector::parse::Message::parse(&text)
            .unwrap()
            .segments()
            .len();
    }
    let elapsed = start.elapsed();

    println!(
        "parse only: {segments} segments in {elapsed:?}: {:.0} messages/s",
        MESSAGES as f64 / elapsed.as_secs_f64()
    );
}
