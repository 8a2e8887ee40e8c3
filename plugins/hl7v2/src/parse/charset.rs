//! Character sets named in MSH-18 and the decoding of message bytes to text.
//!
//! HL7 v2 separators and segment ids are ASCII in every character set this
//! parser supports, so a message can be split into lines and its MSH-18 read
//! before the bytes are decoded.

use std::borrow::Cow;

use super::error::ParseError;

/// The character set of a message, from the first repetition of MSH-18.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Charset {
    /// `ASCII`, or MSH-18 empty (the HL7 default).
    ///
    /// Real feeds that declare nothing often send UTF-8 or Latin-1 anyway:
    /// bytes that form valid UTF-8 are read as UTF-8, and any other input is
    /// read as ISO 8859-1, which decodes every byte.
    #[default]
    Ascii,
    /// `8859/1`: ISO 8859-1 (Latin-1). Each byte is the code point of the
    /// same value.
    Latin1,
    /// `UNICODE UTF-8`. Also accepted as `UNICODE`, `UTF-8` and `UTF8`, which
    /// some senders write.
    Utf8,
}

/// Names of HL7 table 0211 (alternate character sets) that this parser
/// does not decode. An error may quote them, since they cannot be patient
/// data.
const OTHER_TABLE_0211: &[&str] = &[
    "8859/2",
    "8859/3",
    "8859/4",
    "8859/5",
    "8859/6",
    "8859/7",
    "8859/8",
    "8859/9",
    "8859/15",
    "ISO IR6",
    "ISO IR14",
    "ISO IR87",
    "ISO IR159",
    "GB 18030-2000",
    "KS X 1001",
    "CNS 11643-1992",
    "BIG-5",
    "UNICODE UTF-16",
    "UNICODE UTF-32",
];

/// Describes an unsupported MSH-18 value for [`ParseError::UnsupportedCharset`],
/// quoting it only when it is a table 0211 name.
fn describe_unsupported(name: &str) -> String {
    match OTHER_TABLE_0211
        .iter()
        .find(|known| known.eq_ignore_ascii_case(name))
    {
        Some(known) => format!("character set {known}"),
        None => format!(
            "a character set of {} characters that is not in HL7 table 0211",
            name.chars().count()
        ),
    }
}

impl Charset {
    /// Reads an MSH-18 value (its first repetition and component, already
    /// split off). Comparison ignores case and surrounding spaces.
    ///
    /// # Errors
    ///
    /// [`ParseError::UnsupportedCharset`] for any other character set.
    pub fn from_msh18(value: &str) -> Result<Self, ParseError> {
        let name = value.trim();
        let known = [
            ("", Charset::Ascii),
            ("ASCII", Charset::Ascii),
            ("8859/1", Charset::Latin1),
            ("UNICODE UTF-8", Charset::Utf8),
            ("UNICODE", Charset::Utf8),
            ("UTF-8", Charset::Utf8),
            ("UTF8", Charset::Utf8),
        ];
        known
            .iter()
            .find(|(text, _)| text.eq_ignore_ascii_case(name))
            .map(|(_, charset)| *charset)
            .ok_or_else(|| ParseError::UnsupportedCharset {
                name: describe_unsupported(name),
            })
    }

    /// The name HL7 table 0211 gives this character set.
    pub fn hl7_name(self) -> &'static str {
        match self {
            Charset::Ascii => "ASCII",
            Charset::Latin1 => "8859/1",
            Charset::Utf8 => "UNICODE UTF-8",
        }
    }

    /// Decodes bytes produced by a hex escape (`\Xhh..\`) in this character
    /// set. Bytes that are not valid UTF-8 in a UTF-8 or ASCII message become
    /// U+FFFD.
    pub(crate) fn decode_escaped(self, bytes: &[u8]) -> String {
        match self {
            Charset::Latin1 => bytes.iter().map(|&b| char::from(b)).collect(),
            Charset::Ascii | Charset::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
        }
    }
}

/// Decodes one message's bytes to text in the character set its MSH-18
/// declares. A leading UTF-8 byte order mark is removed. Text that is already
/// valid UTF-8 (or plain ASCII) is borrowed, not copied.
///
/// # Errors
///
/// [`ParseError::UnsupportedCharset`] when MSH-18 names another character
/// set, [`ParseError::InvalidText`] when a message declared as UTF-8 contains
/// invalid UTF-8, and [`ParseError::MessageTooLarge`] over
/// [`super::MAX_MESSAGE_BYTES`].
pub fn decode(bytes: &[u8]) -> Result<Cow<'_, str>, ParseError> {
    if bytes.len() > super::MAX_MESSAGE_BYTES {
        return Err(ParseError::MessageTooLarge {
            size: bytes.len(),
            limit: super::MAX_MESSAGE_BYTES,
        });
    }
    let bytes = bytes.strip_prefix(super::UTF8_BOM).unwrap_or(bytes);
    let charset = Charset::from_msh18(&msh18(bytes))?;

    match (charset, std::str::from_utf8(bytes)) {
        (Charset::Latin1, _) => Ok(latin1(bytes)),
        (_, Ok(text)) => Ok(Cow::Borrowed(text)),
        (Charset::Ascii, Err(_)) => Ok(latin1(bytes)),
        (Charset::Utf8, Err(error)) => {
            let line = line_of(bytes, error.valid_up_to());
            Err(ParseError::InvalidText {
                line,
                charset: charset.hl7_name(),
            })
        }
    }
}

/// Reads the character set of a message from its raw bytes, before decoding.
/// Returns the default (ASCII) when there is no MSH line or no MSH-18.
///
/// # Errors
///
/// [`ParseError::UnsupportedCharset`] when MSH-18 names an unsupported set.
pub fn declared_charset(bytes: &[u8]) -> Result<Charset, ParseError> {
    Charset::from_msh18(&msh18(bytes))
}

/// Decodes ISO 8859-1 bytes, borrowing them when they are all ASCII.
fn latin1(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) if bytes.is_ascii() => Cow::Borrowed(text),
        _ => Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
    }
}

/// The first repetition and component of MSH-18, read from the raw first
/// line. Returns an empty string when the line is not an MSH line.
fn msh18(bytes: &[u8]) -> String {
    let line_end = bytes
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(bytes.len());
    let line = &bytes[..line_end];
    let line = line.strip_prefix(super::UTF8_BOM).unwrap_or(line);
    let line = line.strip_prefix(&[super::MLLP_START][..]).unwrap_or(line);
    if line.len() < 5 || &line[..3] != b"MSH" {
        return String::new();
    }
    let field_separator = line[3];
    let encoding = line[4..]
        .split(|&b| b == field_separator)
        .next()
        .unwrap_or_default();
    let component = encoding.first().copied();
    let repetition = encoding.get(1).copied();

    // Split pieces: 0 is "MSH", 1 is MSH-2, so piece k is MSH-(k+1).
    let Some(value) = line.split(|&b| b == field_separator).nth(17) else {
        return String::new();
    };
    let value = value
        .split(|&b| Some(b) == repetition)
        .next()
        .unwrap_or_default();
    let value = value
        .split(|&b| Some(b) == component)
        .next()
        .unwrap_or_default();
    String::from_utf8_lossy(value).into_owned()
}

/// The 1-based line that byte `offset` falls on, counting `\r`, `\n` and
/// `\r\n` each as one line break.
fn line_of(bytes: &[u8], offset: usize) -> usize {
    let before = &bytes[..offset.min(bytes.len())];
    let mut line = 1;
    let mut previous = 0u8;
    for &b in before {
        if b == b'\n' && previous != b'\r' || b == b'\r' {
            line += 1;
        }
        previous = b;
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msh18_names_are_case_insensitive() {
        assert_eq!(Charset::from_msh18("unicode utf-8"), Ok(Charset::Utf8));
        assert_eq!(Charset::from_msh18(" 8859/1 "), Ok(Charset::Latin1));
        assert_eq!(Charset::from_msh18(""), Ok(Charset::Ascii));
    }

    #[test]
    fn unknown_charset_is_rejected() {
        let error = Charset::from_msh18("ISO IR87").unwrap_err();

        assert_eq!(
            error,
            ParseError::UnsupportedCharset {
                name: "character set ISO IR87".to_string()
            }
        );
    }

    #[test]
    fn latin1_bytes_become_their_code_points() {
        // 0xE9 is é and 0xFC is ü in ISO 8859-1.
        let bytes = b"MSH|^~\\&|||||||ADT^A08|1|P|2.5||||||8859/1\rPID|||1||M\xe9ller^J\xfcrgen";

        let text = decode(bytes).unwrap();

        assert!(text.ends_with("Méller^Jürgen"), "{text}");
    }

    #[test]
    fn undeclared_non_utf8_falls_back_to_latin1() {
        let bytes = b"MSH|^~\\&|||||||ADT^A08|1|P|2.5\rPID|||1||G\xf6del";

        let text = decode(bytes).unwrap();

        assert!(text.ends_with("Gödel"), "{text}");
    }

    #[test]
    fn declared_utf8_with_bad_bytes_names_the_line() {
        let bytes = b"MSH|^~\\&|||||||ADT^A08|1|P|2.5||||||UNICODE UTF-8\rPID|||1\rNTE|1||\xff";

        let error = decode(bytes).unwrap_err();

        assert_eq!(
            error,
            ParseError::InvalidText {
                line: 3,
                charset: "UNICODE UTF-8"
            }
        );
    }

    #[test]
    fn msh18_takes_first_repetition() {
        let bytes = b"MSH|^~\\&|||||||ADT^A08|1|P|2.5||||||8859/1~UNICODE UTF-8\r";

        assert_eq!(declared_charset(bytes), Ok(Charset::Latin1));
    }

    #[test]
    fn crlf_counts_as_one_line_break() {
        assert_eq!(line_of(b"a\r\nb\nc", 5), 3);
    }
}
