//! A message split into segments.

use std::borrow::Cow;
use std::fmt;

use super::charset::Charset;
use super::delimiters::Delimiters;
use super::error::{ParseError, describe_first_line};
use super::escape::Codec;
use super::field::Field;
use super::{MAX_FIELDS, MAX_MESSAGE_BYTES, MAX_SEGMENTS, MLLP_START};

/// One HL7 v2 message, borrowing its decoded text.
///
/// Parsing splits the text into segments and checks the limits; fields are
/// split and unescaped only when read. Build it from bytes with
/// [`super::decode`] followed by [`Message::parse`].
#[derive(Clone, Debug)]
pub struct Message<'a> {
    text: &'a str,
    codec: Codec,
    segments: Vec<Segment<'a>>,
}

/// One segment of a message, such as `PID|1||12345^^^HOSP^MR`.
#[derive(Clone, Copy, Debug)]
pub struct Segment<'a> {
    /// The segment without its terminator, starting with the segment id.
    text: &'a str,
    /// 1-based position in the message.
    index: usize,
    /// True for MSH, FHS and BHS, whose field 1 is the field separator.
    header: bool,
    codec: Codec,
}

/// MSH-9 split into its parts, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageType<'a> {
    /// MSH-9.1, such as `ORU`.
    pub code: Cow<'a, str>,
    /// MSH-9.2, such as `R01`.
    pub trigger: Cow<'a, str>,
    /// MSH-9.3, such as `ORU_R01`; often empty before HL7 v2.3.1.
    pub structure: Cow<'a, str>,
}

impl fmt::Display for MessageType<'_> {
    /// Writes `CODE^TRIGGER`, the form rejects and the configuration use.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}^{}", self.code, self.trigger)
    }
}

impl<'a> Message<'a> {
    /// Splits one message into segments.
    ///
    /// Accepts `\r`, `\n` or `\r\n` after each segment, skips blank lines,
    /// and ignores a leading byte order mark and MLLP framing bytes (0x0B
    /// before a segment, 0x1C after one) left in files saved from an MLLP
    /// feed. A line that does not start like a segment (a segment id and a
    /// field separator) is read as the continuation of the segment above it.
    /// Senders that put raw line breaks inside a text field produce such
    /// lines, so joining them keeps the text, line break included.
    ///
    /// `text` must hold a single message: a later MSH segment is read as an
    /// ordinary segment of the first message. Split files holding several
    /// messages with [`super::split_batch`] first.
    ///
    /// # Errors
    ///
    /// [`ParseError`] naming the position when the text is empty, does not
    /// start with MSH, declares unusable separators or an unsupported
    /// character set, contains a line with a malformed segment id, or exceeds
    /// [`MAX_MESSAGE_BYTES`], [`MAX_SEGMENTS`] or [`MAX_FIELDS`].
    pub fn parse(text: &'a str) -> Result<Self, ParseError> {
        if text.len() > MAX_MESSAGE_BYTES {
            return Err(ParseError::MessageTooLarge {
                size: text.len(),
                limit: MAX_MESSAGE_BYTES,
            });
        }
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let codec = read_codec(text)?;

        let segments = split_segments(text, codec)?;

        Ok(Message {
            text,
            codec,
            segments,
        })
    }

    /// The message text, as given to [`Message::parse`] without a byte order
    /// mark.
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// The separators declared in MSH-1 and MSH-2.
    pub fn delimiters(&self) -> Delimiters {
        self.codec.delimiters
    }

    /// The character set declared in MSH-18, used to decode `\X..\` escapes.
    pub fn charset(&self) -> Charset {
        self.codec.charset
    }

    /// All segments, MSH first.
    pub fn segments(&self) -> &[Segment<'a>] {
        &self.segments
    }

    /// The MSH segment.
    pub fn header(&self) -> Segment<'a> {
        self.segments[0]
    }

    /// The first segment named `name`.
    pub fn segment(&self, name: &str) -> Option<Segment<'a>> {
        self.segments.iter().find(|s| s.is(name)).copied()
    }

    /// Every segment named `name`, in order.
    pub fn segments_named<'m>(&'m self, name: &'m str) -> impl Iterator<Item = Segment<'a>> + 'm {
        self.segments
            .iter()
            .filter(move |s| s.name() == name)
            .copied()
    }

    /// MSH-9, the message type.
    pub fn message_type(&self) -> MessageType<'a> {
        let field = self.header().field(9);
        MessageType {
            code: field.component(1).text(),
            trigger: field.component(2).text(),
            structure: field.component(3).text(),
        }
    }

    /// MSH-10, the message control id the sender expects back in its ACK.
    pub fn control_id(&self) -> Cow<'a, str> {
        self.header().field(10).text()
    }

    /// MSH-12.1, the HL7 version such as `2.5.1`.
    pub fn version_id(&self) -> Cow<'a, str> {
        self.header().field(12).text()
    }
}

impl<'a> Segment<'a> {
    /// The 3-character segment id, such as `OBX`.
    pub fn name(&self) -> &'a str {
        &self.text[..3]
    }

    /// Whether the segment id is `name`; cheaper than comparing
    /// [`Segment::name`] with `==` in a loop.
    pub fn is(&self, name: &str) -> bool {
        let (id, wanted) = (self.text.as_bytes(), name.as_bytes());
        wanted.len() == 3 && id[0] == wanted[0] && id[1] == wanted[1] && id[2] == wanted[2]
    }

    /// 1-based position of the segment in its message (MSH is 1).
    pub fn index(&self) -> usize {
        self.index
    }

    /// The segment as written, without its terminator.
    pub fn raw(&self) -> &'a str {
        self.text
    }

    /// Field `n` (1-based), empty when the segment has fewer fields.
    ///
    /// In header segments (MSH, and FHS and BHS in batches) field 1 is the
    /// field separator itself and field 2 the encoding characters, as HL7
    /// numbers them; both are returned unsplit and unescaped. Field 0 is the
    /// segment id.
    pub fn field(&self, n: usize) -> Field<'a> {
        let separator = self.codec.delimiters.field;
        let rest = self.text.get(4..).unwrap_or("");
        match (n, self.header) {
            (0, _) => Field::literal(self.name(), self.codec),
            (_, false) => Field::new(super::piece(rest, separator, n - 1), self.codec),
            (1, true) => Field::literal(self.text.get(3..4).unwrap_or(""), self.codec),
            (2, true) => Field::literal(super::piece(rest, separator, 0), self.codec),
            (_, true) => Field::new(super::piece(rest, separator, n - 2), self.codec),
        }
    }

    /// The number of fields in the segment, counting trailing empty ones.
    pub fn field_count(&self) -> usize {
        let separator = self.codec.delimiters.field;
        let separators = self.text.bytes().filter(|&b| b == separator).count();
        if self.header {
            separators + 1
        } else {
            separators
        }
    }

    fn new(text: &'a str, index: usize, codec: Codec) -> Self {
        let header = matches!(text.as_bytes().get(..3), Some(b"MSH" | b"FHS" | b"BHS"));
        Segment {
            text,
            index,
            header,
            codec,
        }
    }
}

/// Reads MSH-1, MSH-2 and MSH-18 from the first line.
fn read_codec(text: &str) -> Result<Codec, ParseError> {
    let first = text
        .split(['\r', '\n'])
        .map(|line| line.trim_start_matches(char::from(MLLP_START)))
        .find(|line| !line.trim().is_empty())
        .ok_or(ParseError::Empty)?;
    if !first.starts_with("MSH") {
        return Err(ParseError::MissingHeader {
            found: describe_first_line(first.as_bytes()),
        });
    }
    let delimiters = Delimiters::from_header_line(first.as_bytes())?;

    let codec = Codec {
        delimiters,
        charset: Charset::Ascii,
    };
    let header = Segment::new(first, 1, codec);
    let charset = Charset::from_msh18(&header.field(18).text())?;

    Ok(Codec {
        delimiters,
        charset,
    })
}

/// Splits the text into segments, joining continuation lines to the segment
/// above them.
fn split_segments(text: &str, codec: Codec) -> Result<Vec<Segment<'_>>, ParseError> {
    let bytes = text.as_bytes();
    let separator = codec.delimiters.field;
    let mut segments: Vec<Segment<'_>> = Vec::with_capacity(16);
    // Byte range of each segment, kept beside `segments` so a continuation
    // line can extend the last one.
    let mut last_start = 0;
    let mut line_start = 0;

    while line_start < bytes.len() {
        let line_end = super::line_end(bytes, line_start);
        let (start, end) = super::strip_framing(bytes, line_start, line_end);
        line_start = line_end + 1;
        let line = &bytes[start..end];
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }

        match classify(line, separator) {
            LineKind::Segment => {
                if segments.len() == MAX_SEGMENTS {
                    return Err(ParseError::TooManySegments {
                        limit: MAX_SEGMENTS,
                    });
                }
                last_start = start;
                segments.push(Segment::new(&text[start..end], segments.len() + 1, codec));
            }
            LineKind::BadSegmentId(length) => {
                return Err(ParseError::InvalidSegmentName {
                    segment: segments.len() + 1,
                    length,
                });
            }
            LineKind::Continuation => match segments.last_mut() {
                Some(last) => last.text = &text[last_start..end],
                None => {
                    return Err(ParseError::MissingHeader {
                        found: describe_first_line(line),
                    });
                }
            },
        }
    }

    // A segment shorter than the limit cannot hold more separators than it.
    for segment in segments.iter().filter(|s| s.text.len() > MAX_FIELDS) {
        if segment.field_count() > MAX_FIELDS {
            return Err(ParseError::TooManyFields {
                segment: segment.index,
                name: segment.name().to_string(),
                limit: MAX_FIELDS,
            });
        }
    }
    Ok(segments)
}

/// Kind of a non-blank line.
enum LineKind {
    /// A new segment: a valid id followed by the field separator or the end.
    Segment,
    /// Meant as a segment (a short run of letters and digits, then the field
    /// separator) but with an invalid id. The value is the run's length.
    BadSegmentId(usize),
    /// Anything else: text continuing the segment above.
    Continuation,
}

/// Maximum length of the run before the field separator that is still read
/// as an attempted segment id rather than as continuation text.
const MAX_ATTEMPTED_ID: usize = 7;

fn classify(line: &[u8], separator: u8) -> LineKind {
    let id_ends_here = line.len() == 3 || line.get(3) == Some(&separator);
    if id_ends_here && is_segment_id(&line[..line.len().min(3)]) {
        return LineKind::Segment;
    }
    let run = line
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    if run > 0 && run <= MAX_ATTEMPTED_ID && line.get(run) == Some(&separator) {
        return LineKind::BadSegmentId(run);
    }
    LineKind::Continuation
}

/// A segment id: an upper-case letter followed by two upper-case letters or
/// digits (`PID`, `PV1`, `ZPD`).
pub(super) fn is_segment_id(id: &[u8]) -> bool {
    matches!(id, [first, rest @ ..] if rest.len() == 2 && first.is_ascii_uppercase() && rest.iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORU: &str = "MSH|^~\\&|LAB|FAC|EHR|CLINIC|20260105083000-0600||ORU^R01^ORU_R01|CTRL1|P|2.5.1\rPID|1||MRN1^^^HOSP^MR\rOBX|1|NM|2345-7^GLUCOSE^LN||182|mg/dL|70-99|H|||F\r";

    #[test]
    fn segments_are_numbered_from_one() {
        let message = Message::parse(ORU).unwrap();

        let names: Vec<_> = message
            .segments()
            .iter()
            .map(|s| (s.index(), s.name()))
            .collect();
        assert_eq!(names, [(1, "MSH"), (2, "PID"), (3, "OBX")]);
    }

    #[test]
    fn msh_fields_follow_hl7_numbering() {
        let message = Message::parse(ORU).unwrap();
        let msh = message.header();

        assert_eq!(msh.field(1).raw(), "|");
        assert_eq!(msh.field(2).raw(), "^~\\&");
        assert_eq!(msh.field(3).text(), "LAB");
        assert_eq!(message.control_id(), "CTRL1");
        assert_eq!(message.message_type().to_string(), "ORU^R01");
        assert_eq!(message.version_id(), "2.5.1");
    }

    #[test]
    fn obx_fields_are_read() {
        let message = Message::parse(ORU).unwrap();
        let obx = message.segment("OBX").unwrap();

        assert_eq!(obx.field(3).component(2).text(), "GLUCOSE");
        assert_eq!(obx.field(8).text(), "H");
        assert_eq!(obx.field(11).text(), "F");
        assert_eq!(obx.field(40).text(), "");
    }

    #[test]
    fn line_endings_and_blank_lines_are_accepted() {
        let text = "MSH|^~\\&|A\r\n\r\nPID|1\n\nOBX|1\r";

        let message = Message::parse(text).unwrap();

        assert_eq!(message.segments().len(), 3);
        assert_eq!(message.segment("PID").unwrap().raw(), "PID|1");
    }

    #[test]
    fn continuation_line_joins_previous_segment() {
        let text = "MSH|^~\\&|A\nOBX|1|TX|||first line\nsecond line||||||F\n";

        let message = Message::parse(text).unwrap();
        let obx = message.segment("OBX").unwrap();

        assert_eq!(message.segments().len(), 2);
        assert_eq!(obx.field(5).text(), "first line\nsecond line");
        assert_eq!(obx.field(11).text(), "F");
    }

    #[test]
    fn lowercase_segment_id_is_an_error() {
        let error = Message::parse("MSH|^~\\&|A\rpid|1\r").unwrap_err();

        assert_eq!(
            error,
            ParseError::InvalidSegmentName {
                segment: 2,
                length: 3
            }
        );
    }

    #[test]
    fn missing_msh_is_an_error() {
        let error = Message::parse("PID|1\r").unwrap_err();

        assert_eq!(
            error,
            ParseError::MissingHeader {
                found: "segment PID".to_string()
            }
        );
    }

    #[test]
    fn mllp_framing_is_ignored() {
        let message = Message::parse("\u{b}MSH|^~\\&|A\rPID|1\r\u{1c}\r").unwrap();

        assert_eq!(message.segments().len(), 2);
        assert_eq!(message.header().field(3).text(), "A");
    }

    #[test]
    fn segment_without_fields_is_kept() {
        let message = Message::parse("MSH|^~\\&|A\rZZZ\r").unwrap();

        assert_eq!(message.segment("ZZZ").unwrap().field(1).text(), "");
    }

    #[test]
    fn too_many_fields_is_an_error() {
        let text = format!("MSH|^~\\&|A\rNTE{}\r", "|x".repeat(MAX_FIELDS + 1));

        let error = Message::parse(&text).unwrap_err();

        assert_eq!(
            error,
            ParseError::TooManyFields {
                segment: 2,
                name: "NTE".to_string(),
                limit: MAX_FIELDS
            }
        );
    }

    #[test]
    fn too_many_segments_is_an_error() {
        let text = format!("MSH|^~\\&|A\r{}", "NTE|1\r".repeat(MAX_SEGMENTS));

        let error = Message::parse(&text).unwrap_err();

        assert_eq!(
            error,
            ParseError::TooManySegments {
                limit: MAX_SEGMENTS
            }
        );
    }
}
