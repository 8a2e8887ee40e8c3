//! Wall time of `switchboard demo --once`, from starting the release
//! binary to its exit after printing the report. The demo simulates a month
//! at three sites, routes it with the table policy as a component, and
//! feeds it through the FHIR and HL7 v2 components into the store.
//!
//! Run with `cargo bench -p switchboard --bench demo`. `DEMO_RUNS`
//! (default 3) sets the runs.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

fn main() {
    if !common::begin(
        "demo: switchboard demo --once, start to exit",
        "cargo bench -p switchboard --bench demo",
    ) {
        return;
    }
    let runs = common::env_number("DEMO_RUNS", 3) as usize;
    let binary = env!("CARGO_BIN_EXE_switchboard");
    println!("binary: {binary}");

    let mut times = Vec::with_capacity(runs);
    for run in 1..=runs {
        let load = common::load_average();
        let started = Instant::now();
        let output = Command::new(binary)
            .args(["demo", "--once"])
            .output()
            .expect("the switchboard binary starts");
        let elapsed = started.elapsed();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "demo --once failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        let reported = stdout
            .lines()
            .find(|line| line.starts_with("report ready in"))
            .unwrap_or("no \"report ready\" line printed");
        println!(
            "run {run}: {:.2} s to exit; demo printed \"{reported}\"; load average at start {load}",
            elapsed.as_secs_f64()
        );
        times.push(elapsed);
    }

    let seconds: Vec<f64> = times.iter().map(Duration::as_secs_f64).collect();
    println!(
        "\nmedian {:.2} s over {runs} runs",
        common::median(&seconds)
    );
    println!(
        "load average at end (1, 5, 15 min): {}",
        common::load_average()
    );
}
