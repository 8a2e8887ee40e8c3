//! The connector's mapping, run through the SDK's native harness on the
//! fixtures in `tests/fixtures` (see the README there). The site is in
//! America/Chicago: UTC-6 in January, UTC-5 from 8 March 2026.

mod documents;
mod input;
mod orders;
mod patient_data;
mod results;
mod visits;

use hl7v2_connector::Hl7v2Connector;
use switchboard_sdk::testing::{ConnectorHarness, MockHost};
use switchboard_sdk::{Batch, Timestamp, WorkItem};

/// The bytes of a fixture file.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");
    std::fs::read(format!("{path}{name}")).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// A connector configured with `config` on a mock host in the site's zone.
pub fn harness(config: &str) -> ConnectorHarness<Hl7v2Connector> {
    ConnectorHarness::new(MockHost::new().time_zone("America/Chicago"), config).unwrap()
}

/// Maps a fixture with `config`.
pub fn accept_with(name: &str, config: &str) -> Batch {
    harness(config)
        .accept(&fixture(name), "application/hl7-v2")
        .unwrap()
}

/// Maps a fixture with the default configuration.
pub fn accept(name: &str) -> Batch {
    accept_with(name, "")
}

pub fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

/// `rank << 48 | millis`, the version layout of results.
pub fn result_version(rank: u64, time: &str) -> u64 {
    (rank << 48) | at(time).0 as u64
}

/// `millis << 4 | rank`, the version layout of every other item.
pub fn timed_version(time: &str, rank: u64) -> u64 {
    ((at(time).0 as u64) << 4) | rank
}

/// The batch's single item, after checking that nothing was rejected.
pub fn only_item(batch: &Batch) -> &WorkItem {
    assert!(
        batch.rejects.is_empty(),
        "unexpected rejects: {:#?}",
        batch.rejects
    );
    assert_eq!(
        batch.items.len(),
        1,
        "expected one item: {:#?}",
        batch.items
    );
    &batch.items[0]
}

/// The item with `external_id`.
pub fn item<'b>(batch: &'b Batch, external_id: &str) -> &'b WorkItem {
    batch
        .items
        .iter()
        .find(|i| i.external_id == external_id)
        .unwrap_or_else(|| panic!("no item {external_id}: {:#?}", batch.items))
}
