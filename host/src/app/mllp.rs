//! HL7 v2 over MLLP: a listener per connector with `mllp_listen`.
//!
//! Each frame is `0x0B message 0x1C 0x0D`. The message goes through the
//! connector into the store, and only then is it acknowledged: `AA` once
//! stored, `AE` when the connector rejected the message (resending it will
//! not help), `AR` when the host could not take it now (shutting down, site
//! loading, store failure), so the sender retries.
//!
//! A connector with `mllp_tls_cert` and `mllp_tls_key` speaks MLLP inside
//! TLS: the same frames, carried by a rustls session over the TCP
//! connection. With `mllp_tls_client_ca` as well, a sender must present a
//! client certificate from one of those CAs. Listeners run on blocking
//! threads, one per connection, and use rustls's blocking `StreamOwned`.

use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use switchboard_engine::IngestMode;
use tokio_rustls::rustls::{ServerConfig, ServerConnection, StreamOwned};

use super::{App, IntakeError};
use crate::config::{ConnectorConfig, server_config};

const START: u8 = 0x0B;
const END: u8 = 0x1C;
const CR: u8 = 0x0D;

/// Largest message accepted. A larger frame gets an `AR` naming the limit
/// and the connection is closed, so a broken sender cannot exhaust memory.
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;

/// How long a connection waits for bytes before checking for shutdown.
const READ_POLL: Duration = Duration::from_millis(500);

/// Most connections a listener serves at once; it closes further ones at
/// once. Interface engines usually hold one or a few persistent
/// connections per interface, so 64 leaves room while bounding the
/// threads a flood of idle connections can take.
pub const MAX_CONNECTIONS: usize = 64;

/// How long a connection may sit idle between frames before it is closed.
/// Senders reconnect when they next have a message.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// How long a frame may stall part-way before the connection is closed.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(60);

/// The limits one connection is read under; tests shorten them.
#[derive(Clone, Copy, Debug)]
struct FrameLimits {
    max_bytes: usize,
    idle: Duration,
    stall: Duration,
}

const LIMITS: FrameLimits = FrameLimits {
    max_bytes: MAX_MESSAGE_BYTES,
    idle: IDLE_TIMEOUT,
    stall: STALL_TIMEOUT,
};

/// One result of [`read_frame`].
#[derive(Debug, PartialEq)]
enum Frame {
    /// A whole message.
    Message(Vec<u8>),
    /// The first `max_bytes` of a message over the limit; the rest is
    /// unread.
    TooLarge(Vec<u8>),
}

/// Starts a listener for every connector with `mllp_listen`.
///
/// A listener whose port is taken or whose TLS files cannot be used is
/// logged at error level with the fix and counted in `stats.errors`. The
/// other listeners start regardless.
pub fn start(app: Arc<App>, stop: Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<()>> {
    let mut threads = Vec::new();
    for site in app.sites.ids() {
        let Some(handle) = app.sites.get(&site) else {
            continue;
        };
        for connector in &handle.state().config.connectors {
            let Some(address) = connector.mllp_listen else {
                continue;
            };
            let Some(listener) = bind(&app, &site, connector, address) else {
                continue;
            };
            let spawned = {
                let (app, stop, site, name) = (
                    app.clone(),
                    stop.clone(),
                    site.clone(),
                    connector.name.clone(),
                );
                std::thread::Builder::new()
                    .name(format!("mllp-{site}-{name}"))
                    .spawn(move || accept_loop(&app, &stop, &listener, &site, &name))
            };
            match spawned {
                Ok(thread) => threads.push(thread),
                Err(error) => {
                    app.stats.errors.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(site, connector = %connector.name, %error, "failed to start the MLLP listener thread")
                }
            }
        }
    }
    threads
}

/// A bound, non-blocking listener and its TLS configuration, if any.
struct Listener {
    socket: TcpListener,
    tls: Option<Arc<ServerConfig>>,
}

/// Reads the connector's TLS files and binds its address; `None` (after
/// logging why) when either fails.
fn bind(
    app: &App,
    site: &str,
    connector: &ConnectorConfig,
    address: SocketAddr,
) -> Option<Listener> {
    let name = connector.name.as_str();
    let files = connector.mllp_tls_files(&app.layout.sites);
    let tls = match files.as_ref().map(|files| server_config(files, &[])) {
        None => None,
        Some(Ok(config)) => Some(config),
        Some(Err(error)) => {
            app.stats.errors.fetch_add(1, Ordering::Relaxed);
            tracing::error!(site, connector = name, %address, %error, "MLLP listener not started; fix the TLS setting and restart the host");
            return None;
        }
    };

    let socket = match TcpListener::bind(address) {
        Ok(socket) => socket,
        Err(error) => {
            app.stats.errors.fetch_add(1, Ordering::Relaxed);
            tracing::error!(site, connector = name, %address, %error, "failed to listen for MLLP; check that the port is free");
            return None;
        }
    };
    if let Err(error) = socket.set_nonblocking(true) {
        app.stats.errors.fetch_add(1, Ordering::Relaxed);
        tracing::error!(site, connector = name, %address, %error, "failed to configure the MLLP listener");
        return None;
    }

    let client_certificates = files.as_ref().is_some_and(|f| f.client_ca.is_some());
    tracing::info!(site, connector = name, %address, tls = tls.is_some(), client_certificates, "listening for HL7 v2 over MLLP");
    Some(Listener { socket, tls })
}

fn accept_loop(
    app: &Arc<App>,
    stop: &Arc<AtomicBool>,
    listener: &Listener,
    site: &str,
    connector: &str,
) {
    let open = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    while !stop.load(Ordering::SeqCst) {
        match listener.socket.accept() {
            Ok((stream, peer)) => {
                if open.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
                    app.stats.warnings.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(site, connector, %peer, limit = MAX_CONNECTIONS, "MLLP connection closed: the listener already serves its maximum number of connections");
                    drop(stream);
                    continue;
                }
                tracing::debug!(site, connector, %peer, "MLLP connection");
                open.fetch_add(1, Ordering::SeqCst);
                let spawned = {
                    let (app, stop, tls, site, connector, open) = (
                        app.clone(),
                        stop.clone(),
                        listener.tls.clone(),
                        site.to_string(),
                        connector.to_string(),
                        open.clone(),
                    );
                    std::thread::Builder::new()
                        .name("mllp-conn".into())
                        .spawn(move || {
                            serve_connection(&app, &stop, stream, tls, &site, &connector, peer);
                            open.fetch_sub(1, Ordering::SeqCst);
                        })
                };
                if let Err(error) = spawned {
                    open.fetch_sub(1, Ordering::SeqCst);
                    tracing::warn!(site, connector, %peer, %error, "failed to start a thread for an MLLP connection; connection dropped");
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(error) => {
                tracing::warn!(site, connector, %error, "MLLP accept failed");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// Serves one connection, plain or inside TLS, until the peer closes it,
/// an error occurs, or the host stops.
fn serve_connection(
    app: &App,
    stop: &AtomicBool,
    stream: TcpStream,
    tls: Option<Arc<ServerConfig>>,
    site: &str,
    connector: &str,
    peer: SocketAddr,
) {
    let prepared = stream
        .set_nonblocking(false)
        .and_then(|()| stream.set_read_timeout(Some(READ_POLL)));
    if let Err(error) = prepared {
        tracing::debug!(site, connector, %peer, %error, "failed to configure an MLLP connection");
        return;
    }

    let Some(config) = tls else {
        if let Err(error) = serve_frames(app, stop, stream, site, connector) {
            tracing::debug!(site, connector, %peer, %error, "MLLP connection closed");
        }
        return;
    };
    let session = match ServerConnection::new(config) {
        Ok(session) => session,
        Err(error) => {
            tracing::warn!(site, connector, %peer, %error, "failed to start a TLS session for an MLLP connection");
            return;
        }
    };
    let mut tls_stream = StreamOwned::new(session, stream);
    match serve_frames(app, stop, &mut tls_stream, site, connector) {
        Ok(()) => {
            tls_stream.conn.send_close_notify();
            if let Err(error) = tls_stream.flush() {
                tracing::debug!(site, connector, %peer, %error, "failed to send TLS close_notify");
            }
        }
        Err(error) if tls_stream.conn.is_handshaking() => {
            app.stats.warnings.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(site, connector, %peer, %error, "TLS handshake on the MLLP listener failed; check the sender's TLS settings and certificate");
        }
        Err(error) => {
            tracing::debug!(site, connector, %peer, %error, "MLLP connection over TLS closed");
        }
    }
}

/// Reads frames from `stream` and sends the acknowledgement of each, until
/// the peer closes the stream or the host stops.
fn serve_frames(
    app: &App,
    stop: &AtomicBool,
    stream: impl Read + Write,
    site: &str,
    connector: &str,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    while let Some(frame) = read_frame(&mut reader, stop, LIMITS)? {
        let (ack, too_large) = match frame {
            Frame::Message(message) => (handle_message(app, site, connector, &message), false),
            Frame::TooLarge(prefix) => (reject_too_large(app, site, connector, &prefix), true),
        };
        let writer = reader.get_mut();
        writer.write_all(&[START])?;
        writer.write_all(ack.as_bytes())?;
        writer.write_all(&[END, CR])?;
        writer.flush()?;
        if too_large {
            // The rest of the frame is unread, so the stream cannot be
            // resynchronized: close it after the AR.
            return Ok(());
        }
    }
    Ok(())
}

/// Builds the `AR` for a frame over the size limit, from the header at its
/// start, and logs it.
fn reject_too_large(app: &App, site: &str, connector: &str, prefix: &[u8]) -> String {
    let prefix = prefix.strip_prefix(b"\r").unwrap_or(prefix);
    let header = MessageHeader::parse(prefix);
    app.stats.warnings.fetch_add(1, Ordering::Relaxed);
    tracing::warn!(site, connector, control_id = %header.control_id, limit = MAX_MESSAGE_BYTES, "MLLP message over the size limit; responded with AR and closed the connection");
    header.ack(
        "AR",
        &format!(
            "message over the {} MiB limit; split it into smaller messages or batches",
            MAX_MESSAGE_BYTES >> 20
        ),
    )
}

/// Reads one frame; `None` at a clean end of stream, on shutdown, or after
/// `limits.idle` without a frame starting.
///
/// # Errors
///
/// When the stream fails, closes inside a frame, or a frame stalls for
/// `limits.stall`.
fn read_frame(
    reader: &mut impl Read,
    stop: &AtomicBool,
    limits: FrameLimits,
) -> std::io::Result<Option<Frame>> {
    let mut byte = [0u8; 1];
    let waiting_since = std::time::Instant::now();
    // Skip anything before the start block (stray newlines between frames).
    loop {
        match reader.read(&mut byte) {
            Ok(0) => return Ok(None),
            // A TLS peer that closes between frames without close_notify
            // has lost nothing.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Ok(_) if byte[0] == START => break,
            Ok(_) => continue,
            Err(e) if is_timeout(&e) => {
                if stop.load(Ordering::SeqCst) || waiting_since.elapsed() >= limits.idle {
                    return Ok(None);
                }
            }
            Err(e) => return Err(e),
        }
    }

    let mut frame = Vec::new();
    let mut last_byte = std::time::Instant::now();
    loop {
        match reader.read(&mut byte) {
            Ok(0) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "connection closed inside a frame",
                ));
            }
            Ok(_) if byte[0] == END => {
                // The trailing CR; tolerate its absence.
                return Ok(Some(Frame::Message(frame)));
            }
            Ok(_) => {
                last_byte = std::time::Instant::now();
                if frame.len() == limits.max_bytes {
                    return Ok(Some(Frame::TooLarge(frame)));
                }
                frame.push(byte[0]);
            }
            Err(e) if is_timeout(&e) => {
                if stop.load(Ordering::SeqCst) || last_byte.elapsed() >= limits.stall {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "frame stalled part-way",
                    ));
                }
            }
            Err(e) => return Err(e),
        }
    }
}

fn is_timeout(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

fn handle_message(app: &App, site: &str, connector: &str, frame: &[u8]) -> String {
    let frame = frame.strip_prefix(b"\r").unwrap_or(frame);
    let header = MessageHeader::parse(frame);
    match app.intake(
        site,
        connector,
        frame,
        "application/hl7-v2",
        IngestMode::Live,
    ) {
        Ok(report) => {
            if report.rejects.is_empty() {
                header.ack("AA", "")
            } else {
                let text: Vec<String> = report
                    .rejects
                    .iter()
                    .map(|r| format!("{}: {}", r.field, r.message))
                    .collect();
                header.ack("AE", &text.join("; "))
            }
        }
        Err(error @ IntakeError::Rejected { .. }) => header.ack("AE", &error.to_string()),
        Err(error) => {
            tracing::warn!(site, connector, control_id = %header.control_id, %error, "MLLP message not stored; responded with AR");
            header.ack("AR", &error.to_string())
        }
    }
}

/// The MSH fields an acknowledgement echoes.
#[derive(Debug, Default)]
struct MessageHeader {
    field: char,
    encoding: String,
    sending_app: String,
    sending_facility: String,
    receiving_app: String,
    receiving_facility: String,
    control_id: String,
    processing_id: String,
    version: String,
}

impl MessageHeader {
    /// Reads MSH leniently, so an unreadable header still gets an ACK.
    fn parse(frame: &[u8]) -> Self {
        let text = String::from_utf8_lossy(frame);
        let text = text.trim_start_matches('\u{feff}');
        let msh = text
            .split(['\r', '\n'])
            .find(|s| s.starts_with("MSH"))
            .unwrap_or("");
        let field = msh.chars().nth(3).unwrap_or('|');
        let parts: Vec<&str> = msh.split(field).collect();
        let get = |i: usize| parts.get(i).map_or(String::new(), |s| s.to_string());
        MessageHeader {
            field,
            encoding: get(1),
            sending_app: get(2),
            sending_facility: get(3),
            receiving_app: get(4),
            receiving_facility: get(5),
            control_id: get(9),
            processing_id: get(10),
            version: get(11),
        }
    }

    /// Builds an ACK with sender and receiver swapped and MSA echoing the control id.
    fn ack(&self, code: &str, text: &str) -> String {
        let f = self.field;
        let encoding = if self.encoding.is_empty() {
            "^~\\&".to_string()
        } else {
            self.encoding.clone()
        };
        let now = chrono::Utc::now().format("%Y%m%d%H%M%S");
        let version = if self.version.is_empty() {
            "2.5.1"
        } else {
            &self.version
        };
        let processing = if self.processing_id.is_empty() {
            "P"
        } else {
            &self.processing_id
        };
        // The text goes in an HL7 field: drop characters that would end it.
        let text: String = text
            .chars()
            .filter(|c| *c != f && *c != '\r' && *c != '\n' && !encoding.contains(*c))
            .take(200)
            .collect();
        format!(
            "MSH{f}{encoding}{f}{}{f}{}{f}{}{f}{}{f}{now}{f}{f}ACK{f}ACK{}{f}{processing}{f}{version}\rMSA{f}{code}{f}{}{f}{text}\r",
            self.receiving_app,
            self.receiving_facility,
            self.sending_app,
            self.sending_facility,
            self.control_id,
            self.control_id
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_echoes_control_id_and_swaps_parties() {
        let header = MessageHeader::parse(
            b"MSH|^~\\&|LAB|HOSP|SB|CLINIC|20260309||ORU^R01|MSG001|P|2.5.1\rPID|1\r",
        );

        let ack = header.ack("AA", "");

        assert!(ack.starts_with("MSH|^~\\&|SB|CLINIC|LAB|HOSP|"), "{ack}");
        assert!(ack.contains("|ACK|ACKMSG001|P|2.5.1\r"), "{ack}");
        assert!(ack.ends_with("MSA|AA|MSG001|\r"), "{ack}");
    }

    #[test]
    fn ack_text_cannot_break_fields() {
        let header = MessageHeader::parse(b"MSH|^~\\&|A|B|C|D|1||ORU^R01|X|P|2.5\r");

        let ack = header.ack("AE", "bad|field^here\rnext");

        assert!(ack.ends_with("MSA|AE|X|badfieldherenext\r"), "{ack}");
    }

    #[test]
    fn frames_are_read_across_partial_reads() {
        let stop = AtomicBool::new(false);
        let mut input: &[u8] = b"\n\x0bMSH|a\rPID|b\x1c\r\x0bMSH|c\x1c\r";

        let first = read_frame(&mut input, &stop, LIMITS).unwrap().unwrap();
        let second = read_frame(&mut input, &stop, LIMITS).unwrap().unwrap();
        let end = read_frame(&mut input, &stop, LIMITS).unwrap();

        assert_eq!(first, Frame::Message(b"MSH|a\rPID|b".to_vec()));
        assert_eq!(second, Frame::Message(b"MSH|c".to_vec()));
        assert_eq!(end, None);
    }

    /// A reader that fails as rustls does when the peer closes the TCP
    /// connection without a TLS close_notify.
    struct Truncated;

    impl Read for Truncated {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::UnexpectedEof.into())
        }
    }

    #[test]
    fn truncation_between_frames_ends_cleanly() {
        let stop = AtomicBool::new(false);

        let end = read_frame(&mut Truncated, &stop, LIMITS).unwrap();

        assert_eq!(end, None);
    }

    #[test]
    fn truncation_inside_frame_is_an_error() {
        let stop = AtomicBool::new(false);
        let mut input = std::io::Read::chain(&b"\x0bMSH|a"[..], Truncated);

        let error = read_frame(&mut input, &stop, LIMITS).unwrap_err();

        assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn oversized_frame_returns_its_start() {
        let stop = AtomicBool::new(false);
        let limits = FrameLimits {
            max_bytes: 8,
            ..LIMITS
        };
        let mut input: &[u8] = b"\x0bMSH|^~\\&|ABCDEFGHIJ\x1c\r";

        let frame = read_frame(&mut input, &stop, limits).unwrap().unwrap();

        assert_eq!(frame, Frame::TooLarge(b"MSH|^~\\&".to_vec()));
    }

    /// A reader that never has data, as an idle socket with a read timeout.
    struct Idle;

    impl Read for Idle {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::WouldBlock.into())
        }
    }

    #[test]
    fn idle_connection_ends_after_timeout() {
        let stop = AtomicBool::new(false);
        let limits = FrameLimits {
            idle: Duration::ZERO,
            ..LIMITS
        };

        let end = read_frame(&mut Idle, &stop, limits).unwrap();

        assert_eq!(end, None);
    }

    #[test]
    fn stalled_frame_is_an_error() {
        let stop = AtomicBool::new(false);
        let limits = FrameLimits {
            stall: Duration::ZERO,
            ..LIMITS
        };
        let mut input = std::io::Read::chain(&b"\x0bMSH|a"[..], Idle);

        let error = read_frame(&mut input, &stop, limits).unwrap_err();

        assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
    }
}
