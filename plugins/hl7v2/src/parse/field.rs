//! Fields and their parts: repetitions, components and subcomponents.
//!
//! Every part borrows the message text and is split only when read, so
//! reading OBX-8 of a segment costs a scan of that segment and nothing else.
//! Positions are 1-based as in HL7 (`OBR-4.2` is `field(4).component(2)`);
//! a position past the end, or 0, reads as an empty part.
//!
//! HL7 distinguishes an empty field (nothing between two separators: no
//! value was sent) from `""` (an explicit null: the receiver should delete
//! its value). [`Field::is_empty`] and [`Field::is_null`] tell them apart;
//! `text()` returns an empty string for both.

use std::borrow::Cow;

use super::escape::{Codec, unescape};

/// The raw form of an explicit null.
const NULL: &str = "\"\"";

/// Returns piece `n` (1-based) of `raw` split on `separator`, or `""`.
fn nth_piece(raw: &str, separator: u8, n: usize) -> &str {
    if n == 0 {
        return "";
    }
    super::piece(raw, separator, n - 1)
}

/// Splits a value on one separator without allocating. With no separator
/// the whole value is the only piece; an empty value given as `None` has
/// no pieces at all.
#[derive(Clone, Debug)]
struct Pieces<'a> {
    rest: Option<&'a str>,
    separator: Option<char>,
}

impl<'a> Pieces<'a> {
    fn new(raw: Option<&'a str>, separator: Option<u8>) -> Self {
        Pieces {
            rest: raw,
            separator: separator.map(char::from),
        }
    }
}

impl<'a> Iterator for Pieces<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        let split = self.separator.and_then(|separator| rest.find(separator));
        match split {
            Some(at) => {
                self.rest = Some(&rest[at + 1..]);
                Some(&rest[..at])
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

fn decode<'a>(raw: &'a str, codec: Codec) -> Cow<'a, str> {
    if raw == NULL {
        Cow::Borrowed("")
    } else {
        unescape(raw, codec)
    }
}

/// One field of a segment, with all its repetitions.
#[derive(Clone, Copy, Debug)]
pub struct Field<'a> {
    raw: &'a str,
    codec: Codec,
    /// True for MSH-1 and MSH-2, which contain separators and are never split
    /// or unescaped.
    literal: bool,
}

impl<'a> Field<'a> {
    pub(crate) fn new(raw: &'a str, codec: Codec) -> Self {
        Field {
            raw,
            codec,
            literal: false,
        }
    }

    pub(crate) fn literal(raw: &'a str, codec: Codec) -> Self {
        Field {
            raw,
            codec,
            literal: true,
        }
    }

    /// The field as it appears in the message, separators and escapes
    /// included.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// True when nothing was sent (`||`).
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// True for an explicit null (`|""|`).
    pub fn is_null(&self) -> bool {
        self.raw == NULL
    }

    /// True when the field is neither empty nor an explicit null.
    pub fn has_value(&self) -> bool {
        !self.is_empty() && !self.is_null()
    }

    /// The repetitions, in order. An empty field has none.
    pub fn repetitions(&self) -> impl Iterator<Item = Repetition<'a>> + 'a {
        let codec = self.codec;
        let literal = self.literal;
        let raw = (!self.raw.is_empty()).then_some(self.raw);
        let separator = (!literal).then_some(codec.delimiters.repetition);
        Pieces::new(raw, separator).map(move |raw| Repetition {
            raw,
            codec,
            literal,
        })
    }

    /// Repetition `n` (1-based).
    pub fn repetition(&self, n: usize) -> Repetition<'a> {
        let raw = match (self.literal, n) {
            (true, 1) => self.raw,
            (true, _) => "",
            (false, _) => nth_piece(self.raw, self.codec.delimiters.repetition, n),
        };
        Repetition {
            raw,
            codec: self.codec,
            literal: self.literal,
        }
    }

    /// Component `n` (1-based) of the first repetition.
    pub fn component(&self, n: usize) -> Component<'a> {
        self.repetition(1).component(n)
    }

    /// The decoded text of the first subcomponent of the first component of
    /// the first repetition: the whole value for a simple field.
    pub fn text(&self) -> Cow<'a, str> {
        self.repetition(1).text()
    }
}

/// One repetition of a field.
#[derive(Clone, Copy, Debug)]
pub struct Repetition<'a> {
    raw: &'a str,
    codec: Codec,
    literal: bool,
}

impl<'a> Repetition<'a> {
    /// The repetition as written, separators and escapes included.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// True when the repetition is empty.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The components, in order. An empty repetition has one empty component.
    pub fn components(&self) -> impl Iterator<Item = Component<'a>> + 'a {
        let codec = self.codec;
        let literal = self.literal;
        let separator = (!literal).then_some(codec.delimiters.component);
        Pieces::new(Some(self.raw), separator).map(move |raw| Component {
            raw,
            codec,
            literal,
        })
    }

    /// Component `n` (1-based).
    pub fn component(&self, n: usize) -> Component<'a> {
        let raw = match (self.literal, n) {
            (true, 1) => self.raw,
            (true, _) => "",
            (false, _) => nth_piece(self.raw, self.codec.delimiters.component, n),
        };
        Component {
            raw,
            codec: self.codec,
            literal: self.literal,
        }
    }

    /// The decoded text of the first subcomponent of the first component.
    pub fn text(&self) -> Cow<'a, str> {
        self.component(1).text()
    }
}

/// One component of a repetition.
#[derive(Clone, Copy, Debug)]
pub struct Component<'a> {
    raw: &'a str,
    codec: Codec,
    literal: bool,
}

impl<'a> Component<'a> {
    /// The component as written, separators and escapes included.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// True when nothing was sent.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// True for an explicit null (`""`).
    pub fn is_null(&self) -> bool {
        self.raw == NULL
    }

    /// The subcomponents, in order. When the message declares no
    /// subcomponent separator the component is its only subcomponent.
    pub fn subcomponents(&self) -> impl Iterator<Item = Subcomponent<'a>> + 'a {
        let codec = self.codec;
        let literal = self.literal;
        let separator = if literal {
            None
        } else {
            codec.delimiters.subcomponent
        };
        Pieces::new(Some(self.raw), separator).map(move |raw| Subcomponent {
            raw,
            codec,
            literal,
        })
    }

    /// Subcomponent `n` (1-based).
    pub fn subcomponent(&self, n: usize) -> Subcomponent<'a> {
        let raw = match (self.literal, self.codec.delimiters.subcomponent) {
            (false, Some(separator)) => nth_piece(self.raw, separator, n),
            _ if n == 1 => self.raw,
            _ => "",
        };
        Subcomponent {
            raw,
            codec: self.codec,
            literal: self.literal,
        }
    }

    /// The decoded text of the first subcomponent.
    pub fn text(&self) -> Cow<'a, str> {
        self.subcomponent(1).text()
    }
}

/// The smallest part of a value.
#[derive(Clone, Copy, Debug)]
pub struct Subcomponent<'a> {
    raw: &'a str,
    codec: Codec,
    literal: bool,
}

impl<'a> Subcomponent<'a> {
    /// The subcomponent as written, escapes included.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// True when nothing was sent.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// True for an explicit null (`""`).
    pub fn is_null(&self) -> bool {
        self.raw == NULL
    }

    /// The value with escape sequences decoded; empty for an explicit null.
    /// Borrows the message text unless an escape sequence had to be decoded.
    pub fn text(&self) -> Cow<'a, str> {
        if self.literal {
            Cow::Borrowed(self.raw)
        } else {
            decode(self.raw, self.codec)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::charset::Charset;
    use crate::parse::delimiters::Delimiters;

    fn field(raw: &str) -> Field<'_> {
        Field::new(
            raw,
            Codec {
                delimiters: Delimiters::STANDARD,
                charset: Charset::Ascii,
            },
        )
    }

    #[test]
    fn positions_are_one_based() {
        let f = field("a1^a2&x~b1^b2");

        assert_eq!(f.component(1).text(), "a1");
        assert_eq!(f.component(2).subcomponent(2).text(), "x");
        assert_eq!(f.repetition(2).component(2).text(), "b2");
        assert_eq!(f.component(0).text(), "");
        assert_eq!(f.repetition(9).text(), "");
    }

    #[test]
    fn empty_and_null_differ() {
        let empty = field("");
        let null = field("\"\"");

        assert!(empty.is_empty());
        assert!(!empty.is_null());
        assert!(null.is_null());
        assert!(!null.is_empty());
        assert_eq!(null.text(), "");
        assert!(!null.has_value());
    }

    #[test]
    fn empty_field_has_no_repetitions() {
        assert_eq!(field("").repetitions().count(), 0);
        assert_eq!(field("~").repetitions().count(), 2);
    }

    #[test]
    fn escaped_separator_does_not_split() {
        let f = field(r"a\S\b^c");

        assert_eq!(f.component(1).text(), "a^b");
        assert_eq!(f.component(2).text(), "c");
    }

    #[test]
    fn literal_field_is_not_split() {
        let f = Field::literal(
            "^~\\&",
            Codec {
                delimiters: Delimiters::STANDARD,
                charset: Charset::Ascii,
            },
        );

        assert_eq!(f.text(), "^~\\&");
        assert_eq!(f.component(2).text(), "");
    }
}
