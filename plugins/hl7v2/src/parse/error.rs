//! Why a message could not be parsed.
//!
//! Every error names a position (a segment number, a line or a field such as
//! `MSH-2`) and never quotes field contents, because a field may contain
//! patient data. The only text an error copies is a segment id that passed
//! the segment-id check, a separator character or a character-set name from
//! HL7 table 0211.

/// A message, or the input around it, that the parser could not read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The input contains no segment at all (empty, or only blank lines).
    #[error("the input is empty: expected an HL7 v2 message starting with MSH")]
    Empty,

    /// The first segment is not `MSH` (or, for a batch, `FHS` or `BHS`).
    #[error(
        "the input starts with {found} where a message must start with MSH (or a batch with FHS or BHS)"
    )]
    MissingHeader {
        /// Description of the first line: `segment PID` when it starts with a
        /// segment id, else a phrase that quotes none of its text.
        found: String,
    },

    /// MSH-1 or MSH-2 does not define usable separators.
    #[error("{field}: {reason}")]
    InvalidDelimiters {
        /// `MSH-1` or `MSH-2` (or the same field of `FHS` or `BHS`).
        field: String,
        /// Description of the problem and of the expected value.
        reason: String,
    },

    /// MSH-18 names a character set this parser does not decode.
    #[error(
        "MSH-18: {name} is not supported; the sender should use ASCII, 8859/1 or UNICODE UTF-8"
    )]
    UnsupportedCharset {
        /// `character set BIG-5` for a name from HL7 table 0211, else a
        /// description that does not quote the value.
        name: String,
    },

    /// The bytes of a message are not valid in its declared character set.
    #[error(
        "MSH-18: line {line} of the message holds bytes that are not valid {charset}; declare the character set the sender really uses"
    )]
    InvalidText {
        /// 1-based line within the message where the first invalid byte is.
        line: usize,
        /// The declared character set, as HL7 names it.
        charset: &'static str,
    },

    /// A line looks like a segment but its id is not three upper-case
    /// letters or digits starting with a letter.
    #[error(
        "segment {segment}: the {length} characters before the first field separator are not a segment id; expected three characters, an upper-case letter followed by upper-case letters or digits"
    )]
    InvalidSegmentName {
        /// 1-based segment number within the message.
        segment: usize,
        /// The length of the text before the first field separator (at most
        /// 7 characters), which is not quoted because it may be patient data.
        length: usize,
    },

    /// A segment has more fields than [`super::MAX_FIELDS`].
    #[error("segment {segment} ({name}) has more than {limit} fields")]
    TooManyFields {
        /// 1-based segment number within the message.
        segment: usize,
        /// The segment id.
        name: String,
        /// The limit that was exceeded.
        limit: usize,
    },

    /// A message has more segments than [`super::MAX_SEGMENTS`].
    #[error("the message has more than {limit} segments")]
    TooManySegments {
        /// The limit that was exceeded.
        limit: usize,
    },

    /// A message is longer than [`super::MAX_MESSAGE_BYTES`].
    #[error("the message is {size} bytes long, over the limit of {limit} bytes")]
    MessageTooLarge {
        /// The message's length in bytes.
        size: usize,
        /// The limit that was exceeded.
        limit: usize,
    },

    /// The whole input is longer than [`super::MAX_INPUT_BYTES`].
    #[error(
        "the input is {size} bytes long, over the limit of {limit} bytes; split the file into smaller batches"
    )]
    InputTooLarge {
        /// The input's length in bytes.
        size: usize,
        /// The limit that was exceeded.
        limit: usize,
    },

    /// The input contains more messages than [`super::MAX_MESSAGES`].
    #[error("the input holds more than {limit} messages; split the file into smaller batches")]
    TooManyMessages {
        /// The limit that was exceeded.
        limit: usize,
    },

    /// A segment other than a batch header appears before the first MSH.
    #[error("line {line}: segment {name} comes before the first MSH")]
    SegmentOutsideMessage {
        /// 1-based line within the input.
        line: usize,
        /// The segment id.
        name: String,
    },
}

impl ParseError {
    /// The field or segment at fault, in the form a `Reject` names it, such
    /// as `MSH-2`, `MSH-18` or `OBX`.
    pub fn field(&self) -> String {
        match self {
            ParseError::Empty
            | ParseError::MissingHeader { .. }
            | ParseError::TooManySegments { .. }
            | ParseError::MessageTooLarge { .. } => "MSH".to_string(),
            ParseError::InvalidDelimiters { field, .. } => field.clone(),
            ParseError::UnsupportedCharset { .. } | ParseError::InvalidText { .. } => {
                "MSH-18".to_string()
            }
            ParseError::InvalidSegmentName { .. } => "segment id".to_string(),
            ParseError::TooManyFields { name, .. }
            | ParseError::SegmentOutsideMessage { name, .. } => name.clone(),
            ParseError::InputTooLarge { .. } | ParseError::TooManyMessages { .. } => {
                "input".to_string()
            }
        }
    }
}

/// Returns the segment id that starts `line`: three characters that pass the
/// segment-id check (`PID`, `ZPD`) and either end the line or are followed
/// by punctuation, the field separator. `None` for any other line, whose
/// text may be patient data and is never quoted.
pub(crate) fn leading_segment_id(line: &[u8]) -> Option<&str> {
    let id = line.get(..3)?;
    let ends_id = line.get(3).is_none_or(u8::is_ascii_punctuation);
    if ends_id && super::message::is_segment_id(id) {
        std::str::from_utf8(id).ok()
    } else {
        None
    }
}

/// Describes the first line of an input for [`ParseError::MissingHeader`]:
/// its segment id when it has one, else only that it is not a segment.
pub(crate) fn describe_first_line(line: &[u8]) -> String {
    match leading_segment_id(line) {
        Some(id) => format!("segment {id}"),
        None => "a line that is not an HL7 segment".to_string(),
    }
}
