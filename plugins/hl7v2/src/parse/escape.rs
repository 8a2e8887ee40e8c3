//! Decoding of HL7 escape sequences such as `\F\` and `\X41\`.
//!
//! Sequences handled, with the standard escape character `\` shown:
//!
//! | sequence | becomes |
//! |---|---|
//! | `\F\` `\S\` `\T\` `\R\` `\E\` | the field, component, subcomponent, repetition or escape character |
//! | `\P\` | the truncation character (HL7 v2.7) |
//! | `\Xhhhh..\` | the bytes given in hex, read in the message's character set |
//! | `\.br\`, `\.sp\`, `\.sp n\` | a line break (`n` line breaks for `.sp n`, at most 100) |
//! | `\H\`, `\N\`, other `\.xx\` formatting commands | nothing (formatting is dropped) |
//! | `\Cxxyy\`, `\Mxxyyzz\`, `\Zxx..\` | nothing (character-set switches and local escapes are not supported) |
//!
//! Anything else, including an escape character with no closing one, is kept
//! as it was written, because real feeds put unescaped backslashes in text
//! and losing them would change the text.

use std::borrow::Cow;

use super::charset::Charset;
use super::delimiters::Delimiters;

/// Decoding context of a value: the message's delimiters and character set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Codec {
    pub(crate) delimiters: Delimiters,
    pub(crate) charset: Charset,
}

/// Maximum number of line breaks one `\.sp n\` produces, so a hostile count cannot make
/// a short field decode to megabytes.
const MAX_SPACE_LINES: usize = 100;

/// Decodes the escape sequences in `raw`, borrowing it when it has none.
pub(crate) fn unescape(raw: &str, codec: Codec) -> Cow<'_, str> {
    let Some(escape) = codec.delimiters.escape else {
        return Cow::Borrowed(raw);
    };
    let escape = char::from(escape);
    let Some(first) = raw.find(escape) else {
        return Cow::Borrowed(raw);
    };

    let mut out = String::with_capacity(raw.len());
    out.push_str(&raw[..first]);
    let mut rest = &raw[first..];
    while let Some(start) = rest.find(escape) {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find(escape) else {
            // No closing escape character: keep the rest as written.
            out.push_str(&rest[start..]);
            return Cow::Owned(out);
        };
        let sequence = &after[..end];
        if !decode_sequence(sequence, codec, &mut out) {
            out.push(escape);
            out.push_str(sequence);
            out.push(escape);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Appends the meaning of one sequence (the text between two escape
/// characters) to `out`. Returns false when the sequence is not one HL7
/// defines, so the caller keeps it literally.
fn decode_sequence(sequence: &str, codec: Codec, out: &mut String) -> bool {
    let d = codec.delimiters;
    let single = |c: Option<u8>, out: &mut String| match c {
        Some(c) => {
            out.push(char::from(c));
            true
        }
        None => false,
    };
    match sequence {
        "F" => single(Some(d.field), out),
        "S" => single(Some(d.component), out),
        "R" => single(Some(d.repetition), out),
        "E" => single(d.escape, out),
        "T" => single(d.subcomponent, out),
        "P" => single(d.truncation, out),
        "H" | "N" => true,
        ".br" | ".sp" => {
            out.push('\n');
            true
        }
        _ => decode_long_sequence(sequence, codec, out),
    }
}

fn decode_long_sequence(sequence: &str, codec: Codec, out: &mut String) -> bool {
    if let Some(hex) = sequence.strip_prefix('X') {
        return match hex_bytes(hex) {
            Some(bytes) => {
                out.push_str(&codec.charset.decode_escaped(&bytes));
                true
            }
            None => false,
        };
    }
    if let Some(count) = sequence.strip_prefix(".sp") {
        let Ok(count) = count.trim().parse::<usize>() else {
            return false;
        };
        out.extend(std::iter::repeat_n('\n', count.min(MAX_SPACE_LINES)));
        return true;
    }
    let is_formatting = sequence.starts_with('.')
        && sequence.len() >= 3
        && sequence.as_bytes()[1..3].iter().all(u8::is_ascii_lowercase);
    let is_dropped_escape =
        matches!(sequence.as_bytes().first(), Some(b'C' | b'M' | b'Z')) && sequence.len() > 1;
    is_formatting || is_dropped_escape
}

/// Parses an even number of hex digits; `None` when empty, odd or not hex.
fn hex_bytes(hex: &str) -> Option<Vec<u8>> {
    if hex.is_empty() || !hex.len().is_multiple_of(2) {
        return None;
    }
    hex.as_bytes()
        .chunks(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(text, 16).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codec(charset: Charset) -> Codec {
        Codec {
            delimiters: Delimiters::STANDARD,
            charset,
        }
    }

    #[test]
    fn separator_escapes_decode() {
        let text = unescape(r"a\F\b\S\c\T\d\R\e\E\f", codec(Charset::Ascii));

        assert_eq!(text, r"a|b^c&d~e\f");
    }

    #[test]
    fn plain_text_is_borrowed() {
        let text = unescape("no escapes", codec(Charset::Ascii));

        assert!(matches!(text, Cow::Borrowed("no escapes")));
    }

    #[test]
    fn hex_decodes_as_utf8() {
        // C3 A9 is é in UTF-8.
        let text = unescape(r"caf\XC3A9\", codec(Charset::Utf8));

        assert_eq!(text, "café");
    }

    #[test]
    fn hex_decodes_as_latin1() {
        // E9 is é in ISO 8859-1.
        let text = unescape(r"caf\XE9\", codec(Charset::Latin1));

        assert_eq!(text, "café");
    }

    #[test]
    fn unterminated_escape_is_kept() {
        let text = unescape(r"line one\r", codec(Charset::Ascii));

        assert_eq!(text, r"line one\r");
    }

    #[test]
    fn unknown_sequence_is_kept() {
        let text = unescape(r"C:\temp\file", codec(Charset::Ascii));

        assert_eq!(text, r"C:\temp\file");
    }

    #[test]
    fn formatting_becomes_line_breaks() {
        let text = unescape(
            r"\H\one\N\\.br\two\.sp 2\three\.in+4\",
            codec(Charset::Ascii),
        );

        assert_eq!(text, "one\ntwo\n\nthree");
    }

    #[test]
    fn space_count_is_capped() {
        let text = unescape(r"\.sp 999999999\", codec(Charset::Ascii));

        assert_eq!(text.len(), MAX_SPACE_LINES);
    }

    #[test]
    fn odd_hex_is_kept() {
        let text = unescape(r"\XABC\", codec(Charset::Ascii));

        assert_eq!(text, r"\XABC\");
    }

    #[test]
    fn truncation_escape_needs_truncation_character() {
        let mut delimiters = Delimiters::STANDARD;
        let without = unescape(
            r"a\P\b",
            Codec {
                delimiters,
                charset: Charset::Ascii,
            },
        );
        delimiters.truncation = Some(b'#');
        let with = unescape(
            r"a\P\b",
            Codec {
                delimiters,
                charset: Charset::Ascii,
            },
        );

        assert_eq!(without, r"a\P\b");
        assert_eq!(with, "a#b");
    }
}
