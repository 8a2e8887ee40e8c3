//! Why a message could not be parsed.
//!
//! Every error names a position (a segment number, a line or a field such as
//! `MSH-2`) and never quotes field contents, because a field may contain patient
//! data. The only text an error copies is a segment id of at most a few
//! characters or a character-set name.

/// A message, or the input around it, that the parser could not read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The input contains no segment at all (empty, or only blank lines).
    #[error("the input is empty: expected an HL7 v2 message starting with MSH")]
    Empty,

    /// The first segment is not `MSH` (or, for a batch, `FHS` or `BHS`).
    #[error(
        "the input starts with {found:?} where a message must start with MSH (or a batch with FHS or BHS)"
    )]
    MissingHeader {
        /// Up to the first three characters of the input, or a note that they
        /// are not printable.
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
        "MSH-18: character set {name:?} is not supported; the sender should use ASCII, 8859/1 or UNICODE UTF-8"
    )]
    UnsupportedCharset {
        /// The MSH-18 value as sent.
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
        "segment {segment}: {name:?} is not a segment id; expected three characters, an upper-case letter followed by upper-case letters or digits"
    )]
    InvalidSegmentName {
        /// 1-based segment number within the message.
        segment: usize,
        /// The text before the first field separator (at most 7 characters).
        name: String,
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
            ParseError::InvalidSegmentName { name, .. } => name.clone(),
            ParseError::TooManyFields { name, .. }
            | ParseError::SegmentOutsideMessage { name, .. } => name.clone(),
            ParseError::InputTooLarge { .. } | ParseError::TooManyMessages { .. } => {
                "input".to_string()
            }
        }
    }
}

/// Describes the first characters of `text` for an error message without
/// copying anything that could be patient data: printable ASCII of at most
/// `max` characters is quoted, anything else is summarized.
pub(crate) fn describe_prefix(text: &[u8], max: usize) -> String {
    let prefix = &text[..text.len().min(max)];
    if prefix.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        String::from_utf8_lossy(prefix).into_owned()
    } else {
        format!("{} bytes that are not printable ASCII", prefix.len())
    }
}
