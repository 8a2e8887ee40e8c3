//! Running an axum app on `127.0.0.1:0` in a thread of its own, so that
//! blocking tests and async tests can both use it.

use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::oneshot;

/// How long a stopping server waits for its tasks before dropping them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// A running server; stops when dropped.
#[derive(Debug)]
pub(crate) struct Running {
    pub(crate) address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Running {
    /// Binds `127.0.0.1:0` and serves `app` on a two-thread Tokio runtime.
    ///
    /// # Panics
    ///
    /// When the socket cannot be bound or the runtime cannot start; both
    /// mean the test machine is broken.
    pub(crate) fn start(app: axum::Router) -> Self {
        Self::serve(Self::bind(), app)
    }

    /// Binds `127.0.0.1:0`, for a caller that needs the address before it
    /// builds its app.
    pub(crate) fn bind() -> std::net::TcpListener {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("set the listener non-blocking");
        listener
    }

    /// Serves `app` on `listener` (from [`Running::bind`]).
    pub(crate) fn serve(listener: std::net::TcpListener, app: axum::Router) -> Self {
        let address = listener.local_addr().expect("read the bound address");
        let (stop, stopped) = oneshot::channel::<()>();

        let thread = std::thread::Builder::new()
            .name(format!("mock-server-{}", address.port()))
            .spawn(move || serve(listener, app, stopped))
            .expect("spawn the server thread");

        Running {
            address,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

fn serve(listener: std::net::TcpListener, app: axum::Router, stopped: oneshot::Receiver<()>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("start the server runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener).expect("register the listener");
        // Stopping drops the server future and with it every connection,
        // idle keep-alive ones included, instead of waiting for clients.
        tokio::select! {
            result = axum::serve(listener, app) => {
                if let Err(error) = result {
                    tracing::error!(%error, "mock server stopped with an error");
                }
            }
            _ = stopped => {}
        }
    });
    runtime.shutdown_timeout(SHUTDOWN_GRACE);
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            // The server may already have stopped on an error, and then the
            // receiver is gone, which is fine.
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!(address = %self.address, "mock server thread panicked");
        }
    }
}
