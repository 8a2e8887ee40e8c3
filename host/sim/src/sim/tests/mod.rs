//! Simulator tests: a hand-computed two-day scenario, determinism and the
//! default practice's volumes against published figures, config parsing,
//! and the output forms (events, site file, FHIR, HL7).

mod config;
mod formats;
mod practice;
mod scenario;

use chrono::NaiveDate;
use switchboard_sdk::Timestamp;

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}
