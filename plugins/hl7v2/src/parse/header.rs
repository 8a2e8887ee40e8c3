//! The MSH fields a receiver needs to acknowledge a message.

use super::charset::{Charset, declared_charset};
use super::delimiters::Delimiters;
use super::error::ParseError;
use super::message::Message;
use super::{MLLP_START, UTF8_BOM};

/// The MSH fields an MLLP receiver echoes in its ACK, owned so they outlive
/// the received bytes.
///
/// Fields are kept as written (separators and escape sequences included), so
/// an ACK written with the same [`Delimiters`] reproduces them exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// MSH-1 and MSH-2.
    pub delimiters: Delimiters,
    /// MSH-18, used for the text of the fields below.
    pub charset: Charset,
    /// MSH-3.
    pub sending_application: String,
    /// MSH-4.
    pub sending_facility: String,
    /// MSH-5.
    pub receiving_application: String,
    /// MSH-6.
    pub receiving_facility: String,
    /// MSH-7, the message time, as written.
    pub time: String,
    /// MSH-9 as written, such as `ORU^R01^ORU_R01`.
    pub message_type: String,
    /// MSH-9.1, such as `ORU`.
    pub message_code: String,
    /// MSH-9.2, such as `R01`.
    pub trigger_event: String,
    /// MSH-10, the control id to return in MSA-2.
    pub control_id: String,
    /// MSH-11, such as `P` (production) or `T` (training).
    pub processing_id: String,
    /// MSH-12, such as `2.5.1`.
    pub version: String,
    /// MSH-15, when the sender wants an accept acknowledgment (`AL`, `NE`,
    /// `ER`, `SU`; empty means the original acknowledgment mode).
    pub accept_ack_type: String,
    /// MSH-16, when the sender wants an application acknowledgment.
    pub application_ack_type: String,
}

impl Header {
    /// Reads the MSH segment at the start of `bytes` (one message, possibly
    /// with a byte order mark or an MLLP start byte before it). Only the
    /// first line is decoded, so this is cheap even for a large message.
    ///
    /// # Errors
    ///
    /// [`ParseError`] when the bytes do not start with a valid MSH segment or
    /// MSH-18 names an unsupported character set.
    pub fn read(bytes: &[u8]) -> Result<Header, ParseError> {
        let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
        let skip = bytes
            .iter()
            .take_while(|&&b| b == MLLP_START || b == b'\r' || b == b'\n')
            .count();
        let bytes = &bytes[skip..];
        let end = bytes
            .iter()
            .position(|&b| b == b'\r' || b == b'\n')
            .unwrap_or(bytes.len());
        let line = &bytes[..end];

        let charset = declared_charset(line)?;
        let text = match (charset, std::str::from_utf8(line)) {
            (Charset::Latin1, _) | (_, Err(_)) => line.iter().map(|&b| char::from(b)).collect(),
            (_, Ok(text)) => text.to_string(),
        };
        let message = Message::parse(&text)?;
        let msh = message.header();
        let raw = |n: usize| msh.field(n).raw().to_string();
        let message_type = message.message_type();

        Ok(Header {
            delimiters: message.delimiters(),
            charset: message.charset(),
            sending_application: raw(3),
            sending_facility: raw(4),
            receiving_application: raw(5),
            receiving_facility: raw(6),
            time: raw(7),
            message_type: raw(9),
            message_code: message_type.code.into_owned(),
            trigger_event: message_type.trigger.into_owned(),
            control_id: raw(10),
            processing_id: raw(11),
            version: raw(12),
            accept_ack_type: raw(15),
            application_ack_type: raw(16),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_reads_ack_fields() {
        let bytes = b"\x0bMSH|^~\\&|LAB|NORTH|EHR|CLINIC|20260105083000||ORU^R01^ORU_R01|MSG-77|P|2.5.1|||AL|NE\rPID|1\r\x1c\r";

        let header = Header::read(bytes).unwrap();

        assert_eq!(header.sending_application, "LAB");
        assert_eq!(header.receiving_facility, "CLINIC");
        assert_eq!(header.message_type, "ORU^R01^ORU_R01");
        assert_eq!(header.message_code, "ORU");
        assert_eq!(header.trigger_event, "R01");
        assert_eq!(header.control_id, "MSG-77");
        assert_eq!(header.version, "2.5.1");
        assert_eq!(header.accept_ack_type, "AL");
        assert_eq!(header.application_ack_type, "NE");
    }

    #[test]
    fn header_of_garbage_is_an_error() {
        let error = Header::read(b"GET / HTTP/1.1\r\n").unwrap_err();

        assert!(matches!(error, ParseError::MissingHeader { .. }), "{error}");
    }
}
