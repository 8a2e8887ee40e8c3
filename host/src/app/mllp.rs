//! HL7 v2 over MLLP: a listener per connector with `mllp_listen`.
//!
//! Each frame is `0x0B message 0x1C 0x0D`. The message goes through the
//! connector into the store, and only then is it acknowledged: `AA` once
//! stored, `AE` when the connector rejected the message (resending it will
//! not help), `AR` when the host could not take it now (shutting down, site
//! loading, store failure), so the sender retries.

use std::io::{BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use switchboard_engine::IngestMode;

use super::{App, IntakeError};

const START: u8 = 0x0B;
const END: u8 = 0x1C;
const CR: u8 = 0x0D;

/// Largest message accepted; larger frames are refused and the connection
/// closed, so a broken sender cannot exhaust memory.
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;

/// Starts a listener for every connector with `mllp_listen`.
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
            let listener = match TcpListener::bind(address) {
                Ok(listener) => listener,
                Err(error) => {
                    app.stats.errors.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(site, connector = %connector.name, %address, %error, "failed to listen for MLLP; check that the port is free");
                    continue;
                }
            };
            if let Err(error) = listener.set_nonblocking(true) {
                tracing::error!(%error, "failed to configure the MLLP listener");
                continue;
            }
            tracing::info!(site, connector = %connector.name, %address, "listening for HL7 v2 over MLLP");
            let (app, stop, site, name) = (
                app.clone(),
                stop.clone(),
                site.clone(),
                connector.name.clone(),
            );
            if let Ok(thread) = std::thread::Builder::new()
                .name(format!("mllp-{site}-{name}"))
                .spawn(move || accept_loop(&app, &stop, &listener, &site, &name))
            {
                threads.push(thread);
            }
        }
    }
    threads
}

fn accept_loop(
    app: &Arc<App>,
    stop: &Arc<AtomicBool>,
    listener: &TcpListener,
    site: &str,
    connector: &str,
) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, peer)) => {
                tracing::debug!(site, connector, %peer, "MLLP connection");
                let (app, stop, site, connector) = (
                    app.clone(),
                    stop.clone(),
                    site.to_string(),
                    connector.to_string(),
                );
                let _ = std::thread::Builder::new()
                    .name("mllp-conn".into())
                    .spawn(move || {
                        if let Err(error) = serve_connection(&app, &stop, stream, &site, &connector)
                        {
                            tracing::debug!(site, connector, %error, "MLLP connection closed");
                        }
                    });
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

fn serve_connection(
    app: &App,
    stop: &AtomicBool,
    stream: TcpStream,
    site: &str,
    connector: &str,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_millis(500)))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let frame = match read_frame(&mut reader, stop)? {
            Some(frame) => frame,
            None => return Ok(()),
        };
        let ack = handle_message(app, site, connector, &frame);
        writer.write_all(&[START])?;
        writer.write_all(ack.as_bytes())?;
        writer.write_all(&[END, CR])?;
        writer.flush()?;
    }
}

/// Reads one frame; `None` at a clean end of stream or on shutdown.
fn read_frame(reader: &mut impl Read, stop: &AtomicBool) -> std::io::Result<Option<Vec<u8>>> {
    let mut byte = [0u8; 1];
    // Skip anything before the start block (stray newlines between frames).
    loop {
        match reader.read(&mut byte) {
            Ok(0) => return Ok(None),
            Ok(_) if byte[0] == START => break,
            Ok(_) => continue,
            Err(e) if is_timeout(&e) => {
                if stop.load(Ordering::SeqCst) {
                    return Ok(None);
                }
            }
            Err(e) => return Err(e),
        }
    }
    let mut frame = Vec::new();
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
                return Ok(Some(frame));
            }
            Ok(_) => {
                frame.push(byte[0]);
                if frame.len() > MAX_MESSAGE_BYTES {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "MLLP frame over the size limit",
                    ));
                }
            }
            Err(e) if is_timeout(&e) => continue,
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

        let first = read_frame(&mut input, &stop).unwrap().unwrap();
        let second = read_frame(&mut input, &stop).unwrap().unwrap();
        let end = read_frame(&mut input, &stop).unwrap();

        assert_eq!(first, b"MSH|a\rPID|b");
        assert_eq!(second, b"MSH|c");
        assert_eq!(end, None);
    }
}
