//! `switchboard shadow report|promote|rollback --site S`, through the API
//! of the running host (the store allows one process, and the comparisons
//! live in the host).

use std::process::ExitCode;

use serde_json::Value;

use super::output::outln;

/// Where the host is and who asks.
#[derive(Debug, clap::Args)]
pub struct ShadowArgs {
    /// Site id.
    #[arg(long)]
    pub site: String,
    /// The host's API address.
    #[arg(long, default_value = "http://127.0.0.1:7400")]
    pub api: String,
    /// An admin token for the site.
    #[arg(long, env = "SWITCHBOARD_TOKEN", hide_env_values = true)]
    pub token: String,
}

fn call(args: &ShadowArgs, method: &str, path: &str) -> anyhow::Result<Value> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!(
        "{}/v1/sites/{}{path}",
        args.api.trim_end_matches('/'),
        args.site
    );
    let request = match method {
        "POST" => agent
            .post(&url)
            .header("authorization", &format!("Bearer {}", args.token))
            .send_empty(),
        _ => agent
            .get(&url)
            .header("authorization", &format!("Bearer {}", args.token))
            .call(),
    };
    let mut response = request.map_err(|e| {
        anyhow::anyhow!(
            "failed to reach the host at {}: {e}; is `switchboard serve` running?",
            args.api
        )
    })?;
    let status = response.status().as_u16();
    let body: Value =
        serde_json::from_str(&response.body_mut().read_to_string()?).unwrap_or(Value::Null);
    if status >= 400 {
        anyhow::bail!(
            "{} {}: {}",
            status,
            path,
            body["detail"].as_str().unwrap_or("request failed")
        );
    }
    Ok(body)
}

/// Prints the disagreements by rule and category.
pub fn report(args: &ShadowArgs) -> anyhow::Result<ExitCode> {
    let report = call(args, "GET", "/shadow")?;
    let candidate = &report["candidate"];
    if candidate.is_null() {
        outln!(
            "site {} has no shadow policy running (add [shadow] to its site file)",
            args.site
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "candidate  {} {} ({})",
        candidate["name"].as_str().unwrap_or("?"),
        candidate["version"].as_str().unwrap_or("?"),
        candidate["sha256"].as_str().unwrap_or("?")
    )?;
    outln!(
        "compared   {} items, {} disagreements, {} failed shadow calls",
        report["compared"],
        report["disagreements"],
        report["shadow_failures"]
    )?;
    for (title, key) in [
        ("by active rule", "by_rule"),
        ("by category", "by_category"),
    ] {
        outln!("{title}:")?;
        if let Some(map) = report[key].as_object() {
            for (name, count) in map {
                outln!("  {name:<24} {count}")?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Promotes the shadow policy.
pub fn promote(args: &ShadowArgs) -> anyhow::Result<ExitCode> {
    let event = call(args, "POST", "/shadow/promote")?;
    outln!("{}", serde_json::to_string_pretty(&event)?)?;
    Ok(ExitCode::SUCCESS)
}

/// Rolls the routing policy back.
pub fn rollback(args: &ShadowArgs) -> anyhow::Result<ExitCode> {
    let event = call(args, "POST", "/plugins/routing/rollback")?;
    outln!("{}", serde_json::to_string_pretty(&event)?)?;
    Ok(ExitCode::SUCCESS)
}
