//! A policy that misbehaves when an item asks it to, for sandbox tests.

use std::hint::black_box;

use switchboard_sdk::{Assignment, ConfigError, Policy, RouteContext, RouteError, RouteItem, Site};

/// The hostile policy; `configure` fails when the config text is `fail`.
#[derive(Debug)]
pub struct HostilePolicy;

impl Policy for HostilePolicy {
    fn configure(_site: Site, config: &str) -> Result<Self, ConfigError> {
        if config.trim() == "fail" {
            return Err(ConfigError::new("configured to fail"));
        }
        Ok(HostilePolicy)
    }

    fn route(
        &mut self,
        item: &RouteItem,
        context: &RouteContext,
    ) -> Result<Assignment, RouteError> {
        let mut reason = "rule ok: routed".to_string();
        match item.attribute("hostile") {
            Some("loop") => spin_forever(),
            Some("memory") => grow_forever(),
            Some("panic") => panic!("hostile policy panicked on purpose"),
            Some("recursion") => {
                black_box(recurse(black_box(1)));
            }
            Some("oversize") => reason = "x".repeat(1 << 20),
            Some("slow") => {
                let ms: i64 = item
                    .attribute("spin_ms")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(10);
                let until = context.now.0 + ms;
                while switchboard_sdk::host::now().0 < until {
                    black_box(0);
                }
            }
            _ => {}
        }
        Ok(Assignment {
            role: "ma".into(),
            person: None,
            priority: item.priority,
            due: None,
            reason,
            rule: "ok".into(),
        })
    }
}

fn spin_forever() -> ! {
    let mut n: u64 = 0;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}

fn grow_forever() -> ! {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![1u8; 1 << 20]);
        black_box(&hoard);
    }
}

#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let frame = black_box([depth; 64]);
    recurse(black_box(depth + 1)) + frame[3]
}

switchboard_sdk::export_policy!(HostilePolicy);
