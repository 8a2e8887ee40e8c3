//! The separators a message declares in MSH-1 and MSH-2.

use super::error::ParseError;

/// The separator, escape and truncation characters of one message.
///
/// All of them are ASCII punctuation, distinct from each other, so a parser
/// can split decoded UTF-8 text on their bytes without landing inside a
/// multi-byte character.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Delimiters {
    /// MSH-1, usually `|`.
    pub field: u8,
    /// First character of MSH-2, usually `^`.
    pub component: u8,
    /// Second character of MSH-2, usually `~`.
    pub repetition: u8,
    /// Third character of MSH-2, usually `\`. `None` when MSH-2 is shorter,
    /// in which case no escape sequence is decoded.
    pub escape: Option<u8>,
    /// Fourth character of MSH-2, usually `&`. `None` when MSH-2 is shorter,
    /// in which case components are not split further.
    pub subcomponent: Option<u8>,
    /// Fifth character of MSH-2 (HL7 v2.7 and later), usually `#`.
    pub truncation: Option<u8>,
}

impl Default for Delimiters {
    fn default() -> Self {
        Delimiters::STANDARD
    }
}

impl Delimiters {
    /// The separators HL7 recommends: `|^~\&`.
    pub const STANDARD: Delimiters = Delimiters {
        field: b'|',
        component: b'^',
        repetition: b'~',
        escape: Some(b'\\'),
        subcomponent: Some(b'&'),
        truncation: None,
    };

    /// MSH-2 as it would be written with these delimiters, such as `^~\&`.
    pub fn encoding_characters(&self) -> String {
        let optional = [self.escape, self.subcomponent, self.truncation];
        let mut text = String::with_capacity(5);
        text.push(char::from(self.component));
        text.push(char::from(self.repetition));
        for c in optional.into_iter().map_while(|c| c) {
            text.push(char::from(c));
        }
        text
    }

    /// Reads the delimiters of a header line (`MSH`, `FHS` or `BHS`): the
    /// byte after the 3-character segment id is the field separator, and the
    /// characters up to the next field separator are the encoding characters.
    ///
    /// One sloppy form is accepted: a doubled escape character (`^~\\&`),
    /// which appears when a message was pasted from a string literal in
    /// source code, is read as a single one.
    ///
    /// # Errors
    ///
    /// [`ParseError::InvalidDelimiters`] naming `MSH-1` or `MSH-2` (or the
    /// same field of `FHS`/`BHS`) when a separator is missing, is a letter,
    /// digit, space or control character, or repeats another one.
    pub fn from_header_line(line: &[u8]) -> Result<Self, ParseError> {
        let segment = String::from_utf8_lossy(&line[..line.len().min(3)]).into_owned();
        let invalid = |number: u8, reason: String| ParseError::InvalidDelimiters {
            field: format!("{segment}-{number}"),
            reason,
        };

        let Some(&field) = line.get(3) else {
            return Err(invalid(
                1,
                "the field separator is missing after the segment id".to_string(),
            ));
        };
        if !is_separator(field) {
            return Err(invalid(
                1,
                format!(
                    "{} cannot be the field separator; use a punctuation character such as |",
                    describe(field)
                ),
            ));
        }

        let rest = &line[4..];
        let end = rest.iter().position(|&b| b == field).unwrap_or(rest.len());
        let mut encoding = rest[..end].to_vec();
        if encoding.len() == 5 && encoding[2] == encoding[3] {
            encoding.remove(3);
        }
        if encoding.len() < 2 || encoding.len() > 5 {
            let reason = format!(
                "expected 4 encoding characters (5 with the truncation character, as in ^~\\&#), found {}",
                encoding.len()
            );
            return Err(invalid(2, reason));
        }
        if let Some(&bad) = encoding.iter().find(|&&b| !is_separator(b)) {
            return Err(invalid(
                2,
                format!(
                    "{} cannot be an encoding character; use punctuation such as ^~\\&",
                    describe(bad)
                ),
            ));
        }
        let mut seen = vec![field];
        for &c in &encoding {
            if seen.contains(&c) {
                return Err(invalid(
                    2,
                    format!(
                        "the character {:?} is used for two different separators",
                        char::from(c)
                    ),
                ));
            }
            seen.push(c);
        }

        Ok(Delimiters {
            field,
            component: encoding[0],
            repetition: encoding[1],
            escape: encoding.get(2).copied(),
            subcomponent: encoding.get(3).copied(),
            truncation: encoding.get(4).copied(),
        })
    }
}

/// Whether `b` may serve as a separator: printable ASCII punctuation.
fn is_separator(b: u8) -> bool {
    b.is_ascii_punctuation()
}

/// Names a byte that cannot be a separator. Punctuation is quoted, but a
/// letter or digit is not, since it is likely the start of a field value.
fn describe(b: u8) -> String {
    if b.is_ascii_punctuation() {
        format!("the character {:?}", char::from(b))
    } else if b.is_ascii_alphabetic() {
        "a letter".to_string()
    } else if b.is_ascii_digit() {
        "a digit".to_string()
    } else if b == b' ' {
        "a space".to_string()
    } else {
        format!("the byte 0x{b:02X}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_header_reads_all_five() {
        let delimiters = Delimiters::from_header_line(b"MSH|^~\\&#|APP").unwrap();

        assert_eq!(delimiters.truncation, Some(b'#'));
        assert_eq!(delimiters.encoding_characters(), "^~\\&#");
    }

    #[test]
    fn custom_separators_are_read() {
        let delimiters = Delimiters::from_header_line(b"MSH*@!$%*APP").unwrap();

        assert_eq!(
            delimiters,
            Delimiters {
                field: b'*',
                component: b'@',
                repetition: b'!',
                escape: Some(b'$'),
                subcomponent: Some(b'%'),
                truncation: None,
            }
        );
    }

    #[test]
    fn doubled_escape_is_tolerated() {
        let delimiters = Delimiters::from_header_line(b"MSH|^~\\\\&|SE050").unwrap();

        assert_eq!(delimiters, Delimiters::STANDARD);
    }

    #[test]
    fn short_encoding_disables_escapes() {
        let delimiters = Delimiters::from_header_line(b"MSH|^~|APP").unwrap();

        assert_eq!(delimiters.escape, None);
        assert_eq!(delimiters.subcomponent, None);
    }

    #[test]
    fn repeated_separator_names_msh2() {
        let error = Delimiters::from_header_line(b"MSH|^^\\&|APP").unwrap_err();

        assert!(
            matches!(&error, ParseError::InvalidDelimiters { field, .. } if field == "MSH-2"),
            "{error}"
        );
    }

    #[test]
    fn letter_field_separator_names_msh1() {
        let error = Delimiters::from_header_line(b"MSHA^~\\&").unwrap_err();

        assert!(
            matches!(&error, ParseError::InvalidDelimiters { field, .. } if field == "MSH-1"),
            "{error}"
        );
    }
}
