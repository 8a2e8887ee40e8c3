//! A borrowing HL7 v2 (ER7, "pipe and hat") parser.
//!
//! The connector uses it to map messages, and the host uses it, through this
//! crate as an rlib, to read MSH-9 and MSH-10 when it acknowledges a message
//! received over MLLP. It has no dependency on the plugin SDK's host
//! functions, so it runs anywhere.
//!
//! ```
//! use hl7v2_connector::parse::{Message, decode, split_batch};
//!
//! let input = b"MSH|^~\\&|LAB|NORTH|EHR|CLINIC|20260105083000-0600||ORU^R01|C1|P|2.5.1\r\
//!               OBX|1|NM|2345-7^Glucose^LN||182|mg/dL|70-99|H|||F\r";
//! for raw in split_batch(input)?.messages {
//!     let text = decode(raw.bytes)?;
//!     let message = Message::parse(&text)?;
//!     let obx = message.segment("OBX").expect("the message has an OBX");
//!     assert_eq!(message.control_id(), "C1");
//!     assert_eq!(obx.field(3).component(2).text(), "Glucose");
//!     assert_eq!(obx.field(8).text(), "H");
//! }
//! # Ok::<(), hl7v2_connector::parse::ParseError>(())
//! ```
//!
//! Input accepted beyond the standard:
//!
//! - segment terminators `\r` (the standard), `\n` or `\r\n`, blank lines,
//!   a leading UTF-8 byte order mark, and MLLP framing bytes left in files;
//! - any separators declared in MSH-1 and MSH-2, and a doubled escape
//!   character in MSH-2 (`^~\\&`);
//! - raw line breaks inside a field (the next line joins the segment above
//!   when it does not start with a segment id);
//! - the character sets ASCII, 8859/1 and UNICODE UTF-8 in MSH-18, with
//!   undeclared non-UTF-8 bytes read as 8859/1;
//! - batches with FHS/BHS/BTS/FTS and messages concatenated without them.
//!
//! # Limits
//!
//! The parser borrows the input and allocates a list of segments per
//! message. It also copies a message that must be converted from 8859/1, and
//! a value whose escape sequences are decoded when it is read. So memory
//! grows with the input's size and its segment count, and the limits below
//! bound both. A larger input is rejected with a [`ParseError`] that
//! names the limit.

mod batch;
mod charset;
mod delimiters;
mod error;
mod escape;
mod field;
mod header;
mod message;

pub use batch::{Envelope, EnvelopeProblem, RawMessage, split_batch};
pub use charset::{Charset, declared_charset, decode};
pub use delimiters::Delimiters;
pub use error::ParseError;
pub use field::{Component, Field, Repetition, Subcomponent};
pub use header::Header;
pub use message::{Message, MessageType, Segment};

/// Largest input [`split_batch`] accepts, in bytes: 32 MiB. An inbox file
/// larger than this is usually an export that should be split, and the
/// connector's memory must hold the input and a decoded copy of one message.
pub const MAX_INPUT_BYTES: usize = 32 * 1024 * 1024;

/// Largest single message, in bytes: 16 MiB, enough for a report with an
/// embedded PDF in base64 (OBX-5 of type ED).
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Maximum number of messages in one input: 100,000, about one day of results for a
/// large group in a single batch file.
pub const MAX_MESSAGES: usize = 100_000;

/// Maximum number of segments in one message: 10,000. A large panel has a few hundred
/// OBX segments; a transcribed note sent one line per OBX a few thousand.
pub const MAX_SEGMENTS: usize = 10_000;

/// Maximum number of fields in one segment: 1,000. The longest standard segments have
/// under 60 fields; the limit leaves room for site-defined Z segments.
pub const MAX_FIELDS: usize = 1_000;

/// The UTF-8 byte order mark, which some senders put before the first MSH.
pub(crate) const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// MLLP start-of-block byte (vertical tab).
pub(crate) const MLLP_START: u8 = 0x0B;

/// MLLP end-of-block byte (file separator).
pub(crate) const MLLP_END: u8 = 0x1C;

/// The index of the first `\r` or `\n` at or after `from`, or the length.
pub(crate) fn line_end(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .map_or(bytes.len(), |at| from + at)
}

/// The range of a line's content once MLLP framing bytes (0x0B before it,
/// 0x1C after it) are removed.
pub(crate) fn strip_framing(bytes: &[u8], start: usize, end: usize) -> (usize, usize) {
    let mut start = start;
    let mut end = end;
    while start < end && bytes[start] == MLLP_START {
        start += 1;
    }
    while end > start && bytes[end - 1] == MLLP_END {
        end -= 1;
    }
    (start, end)
}

/// Piece `index` (0-based) of `raw` split on `separator`, or `""` when there
/// are fewer pieces. One pass over the bytes, without allocating: cheaper
/// than `str::split` for the short segments HL7 messages are made of.
pub(crate) fn piece(raw: &str, separator: u8, index: usize) -> &str {
    let bytes = raw.as_bytes();
    let mut count = 0;
    let mut start = 0;
    for (at, &byte) in bytes.iter().enumerate() {
        if byte == separator {
            if count == index {
                return &raw[start..at];
            }
            count += 1;
            start = at + 1;
        }
    }
    if count == index { &raw[start..] } else { "" }
}
