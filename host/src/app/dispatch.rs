//! Routing in the background: intake stores a batch and returns at once;
//! the dispatcher routes the site's pending items on its own thread.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use switchboard_engine::Engine;

use super::Stats;

/// Sends sites to route to the dispatcher thread. Requests for the same
/// site that arrive while it routes are merged into one more pass.
#[derive(Debug)]
pub struct Dispatcher {
    sender: Mutex<Option<Sender<String>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Dispatcher {
    /// Starts the dispatcher thread.
    pub fn start(engine: Engine, stats: Arc<Stats>) -> Self {
        let (sender, receiver) = channel::<String>();
        let thread = std::thread::Builder::new()
            .name("switchboard-dispatch".into())
            .spawn(move || run(engine, stats, receiver))
            .expect("failed to start the dispatcher thread");
        Dispatcher {
            sender: Mutex::new(Some(sender)),
            thread: Mutex::new(Some(thread)),
        }
    }

    /// Asks for a routing pass of `site`.
    pub fn notify(&self, site: &str) {
        if let Some(sender) = self
            .sender
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            && sender.send(site.to_string()).is_err()
        {
            tracing::warn!(
                site,
                "dispatcher stopped; pending items are routed on the next start"
            );
        }
    }

    /// Finishes passes already requested and stops the thread.
    pub fn stop(&self) {
        self.sender.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(thread) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = thread.join();
        }
    }
}

fn run(engine: Engine, stats: Arc<Stats>, receiver: Receiver<String>) {
    while let Ok(first) = receiver.recv() {
        let mut sites = BTreeSet::from([first]);
        while let Ok(more) = receiver.try_recv() {
            sites.insert(more);
        }
        for site in sites {
            match engine.route_pending(&site) {
                Ok(report) => {
                    stats
                        .routed
                        .fetch_add(u64::from(report.routed), Ordering::Relaxed);
                    stats
                        .dead_letters
                        .fetch_add(u64::from(report.dead_lettered), Ordering::Relaxed);
                    if let Some(failure) = &report.failure {
                        stats.warnings.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(site, failure = %failure, dead_lettered = report.dead_lettered, "routing failed; items kept as dead letters");
                    }
                }
                Err(error) => {
                    stats.errors.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(site, %error, "routing pass failed; pending items stay pending");
                }
            }
        }
    }
}
