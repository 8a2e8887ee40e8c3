//! Splitting an input that may hold several messages.
//!
//! An input is one message, a batch file wrapped in FHS/BHS headers and
//! BTS/FTS trailers, or several messages simply concatenated. Splitting works
//! on bytes, before any message is decoded, because each message declares
//! its own character set in MSH-18 and every supported character set keeps
//! ASCII bytes (line breaks, segment ids, separators) as they are.

use super::error::{ParseError, describe_first_line, leading_segment_id};
use super::{MAX_INPUT_BYTES, MAX_MESSAGES, UTF8_BOM};

/// One message's bytes within an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawMessage<'a> {
    /// From the start of its MSH segment to the start of the next message,
    /// batch segment or the end of the input.
    pub bytes: &'a [u8],
    /// 1-based line of the MSH segment within the input.
    pub line: usize,
}

/// Something wrong with the batch envelope that does not stop the messages
/// from being read, such as a BTS-1 count that does not match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvelopeProblem {
    /// 1-based line within the input.
    pub line: usize,
    /// The field at fault, such as `BTS-1`.
    pub field: String,
    /// Description of the problem.
    pub message: String,
}

/// The messages of an input and any problems with its batch envelope.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// The messages, in input order.
    pub messages: Vec<RawMessage<'a>>,
    /// Problems with FHS/BHS/BTS/FTS segments or with lines outside any
    /// message.
    pub problems: Vec<EnvelopeProblem>,
}

/// Splits an input into messages.
///
/// Lines before the first message may only be FHS or BHS. Each MSH starts a
/// new message; BHS, BTS, FHS and FTS end the message before them. BTS-1 and
/// FTS-1, when present, are checked against the number of messages and
/// batches actually found. A mismatch becomes an [`EnvelopeProblem`], and so
/// does a line between a trailer and the next MSH.
///
/// # Errors
///
/// [`ParseError::InputTooLarge`] over [`MAX_INPUT_BYTES`],
/// [`ParseError::TooManyMessages`] over [`MAX_MESSAGES`],
/// [`ParseError::Empty`] for an input without any segment, and
/// [`ParseError::MissingHeader`] when the input does not start with MSH, FHS
/// or BHS.
pub fn split_batch(input: &[u8]) -> Result<Envelope<'_>, ParseError> {
    if input.len() > MAX_INPUT_BYTES {
        return Err(ParseError::InputTooLarge {
            size: input.len(),
            limit: MAX_INPUT_BYTES,
        });
    }
    let input = input.strip_prefix(UTF8_BOM).unwrap_or(input);

    let mut splitter = Splitter::default();
    for line in lines(input) {
        splitter.line(input, line)?;
    }
    splitter.finish(input)
}

/// One non-blank line: its content without framing bytes, and where it is.
#[derive(Clone, Copy, Debug)]
struct Line<'a> {
    content: &'a [u8],
    /// Byte offset of `content` within the input.
    start: usize,
    /// 1-based line number.
    number: usize,
}

/// Yields the non-blank lines of `input`, treating `\r\n`, `\r` and `\n`
/// each as one line break.
fn lines(input: &[u8]) -> impl Iterator<Item = Line<'_>> {
    let mut next = 0;
    let mut number = 0;
    std::iter::from_fn(move || {
        while next < input.len() {
            let start = next;
            let end = super::line_end(input, start);
            next = end + 1;
            // A `\n` right after a `\r` ends the same line.
            let is_crlf_tail = start > 0
                && start == end
                && input[start - 1] == b'\r'
                && input.get(end) == Some(&b'\n');
            if !is_crlf_tail {
                number += 1;
            }
            let (start, end) = super::strip_framing(input, start, end);
            let content = &input[start..end];
            if !content.iter().all(u8::is_ascii_whitespace) {
                return Some(Line {
                    content,
                    start,
                    number,
                });
            }
        }
        None
    })
}

/// State while walking the lines of an input.
#[derive(Default)]
struct Splitter<'a> {
    envelope: Envelope<'a>,
    /// Start offset and line of the message being collected.
    current: Option<(usize, usize)>,
    /// A header (FHS or BHS) was seen, so the input is a batch file.
    saw_header: bool,
    /// Messages since the last BHS, for checking BTS-1.
    messages_in_batch: usize,
    /// Batches since the last FHS, for checking FTS-1.
    batches_in_file: usize,
    /// The last segment was a trailer: lines until the next MSH are outside
    /// any message.
    after_trailer: bool,
}

impl<'a> Splitter<'a> {
    fn line(&mut self, input: &'a [u8], line: Line<'a>) -> Result<(), ParseError> {
        let id = &line.content[..line.content.len().min(3)];
        match id {
            b"MSH" => {
                self.close(input, line.start)?;
                self.current = Some((line.start, line.number));
                self.messages_in_batch += 1;
                self.after_trailer = false;
            }
            b"FHS" | b"BHS" => {
                self.close(input, line.start)?;
                self.saw_header = true;
                self.after_trailer = false;
                if id == b"BHS" {
                    self.batches_in_file += 1;
                    self.messages_in_batch = 0;
                } else {
                    self.batches_in_file = 0;
                }
            }
            b"BTS" | b"FTS" => {
                self.close(input, line.start)?;
                let (field, found, what) = if id == b"BTS" {
                    ("BTS-1", self.messages_in_batch, "messages")
                } else {
                    ("FTS-1", self.batches_in_file, "batches")
                };
                self.check_count(line, field, found, what);
                self.after_trailer = true;
            }
            _ if self.current.is_some() && !self.after_trailer => {}
            _ if self.current.is_none() && !self.saw_header && !self.after_trailer => {
                return Err(ParseError::MissingHeader {
                    found: describe_first_line(line.content),
                });
            }
            _ => self.envelope.problems.push(EnvelopeProblem {
                line: line.number,
                field: leading_segment_id(line.content).unwrap_or("line").to_string(),
                message: "this line is outside any message (after a batch trailer or before the first MSH) and was skipped".to_string(),
            }),
        }
        Ok(())
    }

    /// Ends the message being collected at byte `end`.
    fn close(&mut self, input: &'a [u8], end: usize) -> Result<(), ParseError> {
        if let Some((start, line)) = self.current.take() {
            if self.envelope.messages.len() == MAX_MESSAGES {
                return Err(ParseError::TooManyMessages {
                    limit: MAX_MESSAGES,
                });
            }
            self.envelope.messages.push(RawMessage {
                bytes: &input[start..end],
                line,
            });
        }
        Ok(())
    }

    /// Compares a trailer's count (field 1) with what was found.
    fn check_count(&mut self, line: Line<'_>, field: &str, found: usize, what: &str) {
        let Some(&separator) = line.content.get(3) else {
            return;
        };
        let value = line.content[4..]
            .split(|&b| b == separator)
            .next()
            .unwrap_or_default();
        let value = String::from_utf8_lossy(value);
        let value = value.trim();
        if value.is_empty() {
            return;
        }
        let message = match value.parse::<usize>() {
            Ok(expected) if expected == found => return,
            Ok(expected) => format!(
                "the trailer counts {expected} {what} but the input holds {found}; some may have been lost in transfer"
            ),
            Err(_) => format!(
                "not a count of {what}: expected a whole number, found {} characters",
                value.chars().count()
            ),
        };
        self.envelope.problems.push(EnvelopeProblem {
            line: line.number,
            field: field.to_string(),
            message,
        });
    }

    fn finish(mut self, input: &'a [u8]) -> Result<Envelope<'a>, ParseError> {
        self.close(input, input.len())?;
        if self.envelope.messages.is_empty() && !self.saw_header {
            return Err(ParseError::Empty);
        }
        Ok(self.envelope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts<'a>(envelope: &Envelope<'a>) -> Vec<&'a str> {
        envelope
            .messages
            .iter()
            .map(|m| std::str::from_utf8(m.bytes).unwrap())
            .collect()
    }

    #[test]
    fn single_message_is_one_entry() {
        let envelope = split_batch(b"MSH|^~\\&|A\rPID|1\r").unwrap();

        assert_eq!(texts(&envelope), ["MSH|^~\\&|A\rPID|1\r"]);
        assert!(envelope.problems.is_empty());
    }

    #[test]
    fn concatenated_messages_split_at_msh() {
        let envelope = split_batch(b"MSH|^~\\&|A\nPID|1\n\nMSH|^~\\&|B\nPID|2\n").unwrap();

        assert_eq!(
            texts(&envelope),
            ["MSH|^~\\&|A\nPID|1\n\n", "MSH|^~\\&|B\nPID|2\n"]
        );
        assert_eq!(envelope.messages[1].line, 4);
    }

    #[test]
    fn batch_envelope_is_removed() {
        let input = b"FHS|^~\\&|LAB\rBHS|^~\\&|LAB\rMSH|^~\\&|A\rMSH|^~\\&|B\rBTS|2\rFTS|1\r";

        let envelope = split_batch(input).unwrap();

        assert_eq!(texts(&envelope), ["MSH|^~\\&|A\r", "MSH|^~\\&|B\r"]);
        assert!(envelope.problems.is_empty(), "{:?}", envelope.problems);
    }

    #[test]
    fn wrong_trailer_count_is_a_problem() {
        let input = b"BHS|^~\\&|LAB\rMSH|^~\\&|A\rBTS|3\r";

        let envelope = split_batch(input).unwrap();

        assert_eq!(envelope.messages.len(), 1);
        assert_eq!(envelope.problems.len(), 1);
        assert_eq!(envelope.problems[0].field, "BTS-1");
        assert_eq!(envelope.problems[0].line, 3);
    }

    #[test]
    fn empty_batch_is_not_an_error() {
        let envelope = split_batch(b"BHS|^~\\&|LAB\rBTS|0\r").unwrap();

        assert!(envelope.messages.is_empty());
        assert!(envelope.problems.is_empty());
    }

    #[test]
    fn text_before_first_msh_is_an_error() {
        let error = split_batch(b"hello\rMSH|^~\\&|A\r").unwrap_err();

        assert_eq!(
            error,
            ParseError::MissingHeader {
                found: "a line that is not an HL7 segment".to_string()
            }
        );
    }

    #[test]
    fn blank_input_is_empty() {
        assert_eq!(split_batch(b"\r\n  \n").unwrap_err(), ParseError::Empty);
    }

    #[test]
    fn bom_and_mllp_bytes_are_skipped() {
        let envelope = split_batch(b"\xef\xbb\xbf\x0bMSH|^~\\&|A\rPID|1\r\x1c\r").unwrap();

        assert_eq!(envelope.messages.len(), 1);
        assert!(envelope.messages[0].bytes.starts_with(b"MSH"));
    }
}
