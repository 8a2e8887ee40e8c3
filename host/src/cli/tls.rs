//! The API over HTTPS: a rustls acceptor in front of the axum router, used
//! by `serve` when `api.tls_cert` and `api.tls_key` are set. A client that
//! speaks plain HTTP to this port fails the handshake and gets no response.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tower::ServiceExt;

/// Time a client has to complete the TLS handshake. Without a bound, a
/// client that opens a connection and sends nothing keeps a task alive for
/// ever.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Pause after a failed `accept` (such as running out of file descriptors),
/// so the loop does not spin while the condition lasts.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(100);

/// Accepts TLS connections on `listener` and serves `router` on each until
/// `shutdown` completes. Then it stops accepting, starts a graceful
/// shutdown of every open connection (requests in flight finish, then the
/// connection closes), and waits up to `drain` for them before dropping
/// the rest. Failed handshakes,
/// connections and `accept` calls are logged, and the listener keeps
/// serving.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    config: Arc<ServerConfig>,
    drain: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(config);
    let (stopping, stop) = watch::channel(false);
    let mut connections = JoinSet::new();

    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "failed to accept an API connection; retrying");
                    tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
                    continue;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            () = &mut shutdown => break,
        };
        connections.spawn(connection(
            acceptor.clone(),
            router.clone(),
            stream,
            peer,
            stop.clone(),
        ));
    }

    stopping.send_replace(true);
    let drained = tokio::time::timeout(drain, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            seconds = drain.as_secs(),
            "closing HTTPS connections still open after the drain time"
        );
    }
}

/// Runs the handshake and serves one connection until it closes or `stop`
/// turns true, when it finishes the requests in flight and closes.
async fn connection(
    acceptor: TlsAcceptor,
    router: Router,
    stream: TcpStream,
    peer: SocketAddr,
    mut stop: watch::Receiver<bool>,
) {
    let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => {
            tracing::debug!(%peer, %error, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, seconds = HANDSHAKE_TIMEOUT.as_secs(), "TLS handshake timed out");
            return;
        }
    };

    let service =
        hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            router.clone().oneshot(request.map(axum::body::Body::new))
        });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);

    let result = tokio::select! {
        result = connection.as_mut() => result,
        // A closed channel means the listener is gone: stop as well.
        _ = async { stop.wait_for(|stopping| *stopping).await.map(|_| ()) } => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%peer, %error, "HTTPS connection ended with an error");
    }
}
