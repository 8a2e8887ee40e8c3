//! `switchboard serve --config DIR`: the long-running host.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::app::{App, AppOptions};
use crate::config::{HTTP_ALPN, server_config};

/// Runs the host until SIGTERM or Ctrl-C, then shuts down cleanly.
pub fn run(config: &Path) -> anyhow::Result<ExitCode> {
    let options = AppOptions {
        quick_compile: true,
        ..AppOptions::default()
    };
    let app = App::open(config, options)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("switchboard-api")
        .build()
        .context("failed to start the async runtime")?;
    runtime.block_on(serve(app))?;
    Ok(ExitCode::SUCCESS)
}

/// Extra time, beyond the request timeout, that HTTPS connections get to
/// close after the shutdown signal.
const DRAIN_MARGIN: Duration = Duration::from_secs(5);

/// Serves `app` until a shutdown signal; used by `serve` and `demo`.
///
/// The TLS files are read before the port is bound, so a bad
/// `api.tls_cert` or `api.tls_key` stops the host with an error naming the
/// setting, and nothing listens in the meantime.
pub async fn serve(app: Arc<App>) -> anyhow::Result<()> {
    let tls = match app.config.api.tls_files(&app.layout.root) {
        Some(files) => Some(server_config(&files, HTTP_ALPN)?),
        None => None,
    };
    let address = app.config.api.listen;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| {
            format!("failed to listen on {address}; is another process using the port?")
        })?;
    let local: SocketAddr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(address = %local, tls = tls.is_some(), config = %app.layout.root.display(), "switchboard started; API listening");
    println!("listening on {scheme}://{local}");

    let loader = app.clone();
    tokio::task::spawn_blocking(move || loader.load_sites());

    let router = crate::api::router(app.clone());
    match tls {
        Some(config) => {
            let drain = Duration::from_secs(app.config.api.request_timeout_seconds) + DRAIN_MARGIN;
            super::tls::serve(listener, router, config, drain, shutdown_signal()).await
        }
        None => axum::serve(listener, router)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .context("the API server failed")?,
    }

    tracing::info!("shutdown signal received; stopping intake and finishing work in flight");
    let stopping = app.clone();
    tokio::task::spawn_blocking(move || stopping.shutdown())
        .await
        .context("shutdown failed")?;
    tracing::info!("switchboard stopped");
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "failed to listen for SIGTERM; stop the host with Ctrl-C");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
}
