//! `switchboard serve --config DIR`: the long-running host.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use crate::app::{App, AppOptions};

/// Runs the host until SIGTERM or Ctrl-C, then shuts down cleanly.
pub fn run(config: &Path) -> anyhow::Result<ExitCode> {
    let app = App::open(config, AppOptions::default())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("switchboard-api")
        .build()
        .context("failed to start the async runtime")?;
    runtime.block_on(serve(app))?;
    Ok(ExitCode::SUCCESS)
}

/// Serves `app` until a shutdown signal; used by `serve` and `demo`.
pub async fn serve(app: Arc<App>) -> anyhow::Result<()> {
    let address = app.config.api.listen;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| {
            format!("failed to listen on {address}; is another process using the port?")
        })?;
    let local: SocketAddr = listener.local_addr()?;
    tracing::info!(address = %local, config = %app.layout.root.display(), "switchboard started; API listening");
    println!("listening on http://{local}");

    let loader = app.clone();
    tokio::task::spawn_blocking(move || loader.load_sites());

    let router = crate::api::router(app.clone());
    let tls = match (&app.config.api.tls_cert, &app.config.api.tls_key) {
        (Some(cert), Some(key)) => Some((app.layout.root.join(cert), app.layout.root.join(key))),
        _ => None,
    };
    match tls {
        Some((cert, key)) => {
            super::tls::serve(listener, router, &cert, &key, shutdown_signal()).await?
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
