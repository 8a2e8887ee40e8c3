//! A reader for the usual shape of a bare work-item line.
//!
//! serde_json spent about 7,500 instructions (counted with callgrind) on a
//! 330-byte item line, and this reader about 4,000. It reads only lines of
//! a plain shape: a bare object with known keys, each at most
//! once, string values without escapes or control characters, plain
//! integers and `null`. On anything else it returns `None`, and the caller
//! reads the line with serde, which accepts it or reports the error. So the
//! error messages stay serde's, and a line this reader accepts must give
//! what serde gives; a property test compares the two on generated lines.

use std::borrow::Cow;

use super::{AttributeRef, RouteLine};
use crate::types::{Category, EhrState, Priority, ResultFlag, Timestamp};

/// Keys a line must have: `external_id`, `version`, `category`, `title`
/// and `created`.
const REQUIRED: u16 = 1 << 0 | 1 << 1 | 1 << 2 | 1 << 6 | 1 << 12;

/// Reads `text`, already trimmed, or returns `None` when the line needs
/// serde.
pub(super) fn parse(text: &str) -> Option<RouteLine<'_>> {
    let mut cursor = Cursor { text, at: 0 };
    let mut line = RouteLine {
        external_id: Cow::Borrowed(""),
        version: 0,
        category: Category::Other,
        flag: ResultFlag::default(),
        priority: Priority::default(),
        state: EhrState::default(),
        title: Cow::Borrowed(""),
        patient: None,
        encounter: None,
        ordering: None,
        rendering: None,
        pcp: None,
        created: Timestamp(0),
        due: None,
        attributes: Vec::new(),
    };

    let mut seen = 0u16;
    cursor.expect(b'{')?;
    if cursor.peek()? == b'}' {
        return None;
    }
    loop {
        let key = cursor.string()?;
        cursor.expect(b':')?;
        let index = key_index(key)?;
        if seen & (1 << index) != 0 {
            return None;
        }
        seen |= 1 << index;
        read_value(&mut cursor, index, &mut line)?;

        match cursor.next()? {
            b',' => {}
            b'}' => break,
            _ => return None,
        }
    }

    cursor.skip_whitespace();
    (cursor.at == text.len() && seen & REQUIRED == REQUIRED).then_some(line)
}

/// Returns the number of a work item's key: its bit in `seen` and its arm
/// in [`read_value`]. A `match` compares lengths before bytes, where a
/// search through a list would compare up to fifteen strings.
fn key_index(key: &str) -> Option<usize> {
    Some(match key {
        "external_id" => 0,
        "version" => 1,
        "category" => 2,
        "flag" => 3,
        "priority" => 4,
        "state" => 5,
        "title" => 6,
        "patient" => 7,
        "encounter" => 8,
        "ordering" => 9,
        "rendering" => 10,
        "pcp" => 11,
        "created" => 12,
        "due" => 13,
        "attributes" => 14,
        _ => return None,
    })
}

/// Reads the value of the key numbered `index` into `line`.
fn read_value<'a>(cursor: &mut Cursor<'a>, index: usize, line: &mut RouteLine<'a>) -> Option<()> {
    match index {
        0 => line.external_id = Cow::Borrowed(cursor.string()?),
        1 => line.version = cursor.integer()?,
        2 => line.category = cursor.string()?.parse().ok()?,
        3 => line.flag = cursor.string()?.parse().ok()?,
        4 => line.priority = cursor.string()?.parse().ok()?,
        5 => line.state = cursor.string()?.parse().ok()?,
        6 => line.title = Cow::Borrowed(cursor.string()?),
        7 => line.patient = cursor.optional_string()?.map(Cow::Borrowed),
        8 => line.encounter = cursor.optional_string()?.map(Cow::Borrowed),
        9 => line.ordering = cursor.optional_string()?.map(Cow::Borrowed),
        10 => line.rendering = cursor.optional_string()?.map(Cow::Borrowed),
        11 => line.pcp = cursor.optional_string()?.map(Cow::Borrowed),
        12 => line.created = Timestamp::parse_rfc3339(cursor.string()?).ok()?,
        13 => {
            line.due = match cursor.optional_string()? {
                Some(text) => Some(Timestamp::parse_rfc3339(text).ok()?),
                None => None,
            }
        }
        _ => line.attributes = attributes(cursor)?,
    }
    Some(())
}

/// Reads `[{"key": "...", "value": "..."}, ...]`.
fn attributes<'a>(cursor: &mut Cursor<'a>) -> Option<Vec<AttributeRef<'a>>> {
    cursor.expect(b'[')?;
    let mut list = Vec::new();
    if cursor.peek()? == b']' {
        cursor.at += 1;
        return Some(list);
    }
    loop {
        list.push(attribute(cursor)?);
        match cursor.next()? {
            b',' => {}
            b']' => return Some(list),
            _ => return None,
        }
    }
}

/// Reads `{"key": "...", "value": "..."}` with the two keys in either
/// order.
fn attribute<'a>(cursor: &mut Cursor<'a>) -> Option<AttributeRef<'a>> {
    cursor.expect(b'{')?;
    let (mut key, mut value) = (None, None);
    loop {
        let name = cursor.string()?;
        cursor.expect(b':')?;
        let slot = match name {
            "key" => &mut key,
            "value" => &mut value,
            _ => return None,
        };
        if slot.replace(cursor.string()?).is_some() {
            return None;
        }
        match cursor.next()? {
            b',' => {}
            b'}' => break,
            _ => return None,
        }
    }
    Some(AttributeRef {
        key: Cow::Borrowed(key?),
        value: Cow::Borrowed(value?),
    })
}

/// Returns the length of the run of `bytes` before the first byte that ends a
/// plain string: the closing quote, a backslash (an escape, which serde
/// reads) or a control character, which JSON forbids inside strings.
/// `None` when no byte ends it.
///
/// Tests eight bytes at a time: a byte-by-byte loop spent about 160
/// instructions per string, most of the fast path's cost.
fn plain_run(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;

    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        // A byte's high bit is set in `found` if it is zero after the XOR
        // (a quote or a backslash) or below 0x20. Borrows make bits above
        // the first match unreliable, so only the lowest set bit counts.
        let quote = word ^ (ONES * u64::from(b'"'));
        let backslash = word ^ (ONES * u64::from(b'\\'));
        let found = (quote.wrapping_sub(ONES) & !quote
            | backslash.wrapping_sub(ONES) & !backslash
            | word.wrapping_sub(ONES * 0x20) & !word)
            & HIGHS;
        if found != 0 {
            return Some(offset + found.trailing_zeros() as usize / 8);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|at| offset + at)
}

/// A position in the line.
struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// Moves past JSON whitespace.
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes().get(self.at) {
            self.at += 1;
        }
    }

    /// Returns the next byte that is not whitespace, without consuming it.
    fn peek(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.bytes().get(self.at).copied()
    }

    /// Consumes and returns the next byte that is not whitespace.
    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.next()? == byte).then_some(())
    }

    /// Reads a string without escapes or control characters.
    fn string(&mut self) -> Option<&'a str> {
        // In compact JSON the quote comes next. Otherwise skip whitespace.
        if self.bytes().get(self.at) == Some(&b'"') {
            self.at += 1;
        } else {
            self.expect(b'"')?;
        }
        let start = self.at;
        let rest = &self.bytes()[start..];
        let length = plain_run(rest)?;
        if rest[length] != b'"' {
            return None;
        }
        self.at = start + length + 1;
        let text = &rest[..length];
        // SAFETY: `text` lies between two ASCII quotes of a `&str`, and a
        // byte of a multi-byte UTF-8 sequence is never ASCII, so both ends
        // are character boundaries and the bytes between are UTF-8. This
        // skips the boundary checks of `str::get` on ~26 strings a line.
        #[allow(unsafe_code)]
        Some(unsafe { std::str::from_utf8_unchecked(text) })
    }

    /// Reads a string or `null`.
    fn optional_string(&mut self) -> Option<Option<&'a str>> {
        if self.peek()? == b'n' {
            let end = self.at + 4;
            return (self.bytes().get(self.at..end)? == b"null").then(|| {
                self.at = end;
                None
            });
        }
        self.string().map(Some)
    }

    /// Reads a JSON integer that fits `u64`: digits with no sign, fraction,
    /// exponent or leading zero.
    fn integer(&mut self) -> Option<u64> {
        self.skip_whitespace();
        let start = self.at;
        let rest = &self.bytes()[start..];
        let length = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let digits = &rest[..length];
        if length == 0 || (digits[0] == b'0' && length > 1) {
            return None;
        }
        if matches!(rest.get(length), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        self.at = start + length;
        self.text.get(start..self.at)?.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn serde(text: &str) -> Result<RouteLine<'_>, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    /// Every key of a work item, in the order of its number.
    const KEYS: [&str; 15] = [
        "external_id",
        "version",
        "category",
        "flag",
        "priority",
        "state",
        "title",
        "patient",
        "encounter",
        "ordering",
        "rendering",
        "pcp",
        "created",
        "due",
        "attributes",
    ];

    #[test]
    fn key_index_is_position_in_keys() {
        for (position, key) in KEYS.iter().enumerate() {
            assert_eq!(key_index(key), Some(position), "{key}");
        }
        assert_eq!(key_index("Title"), None);
        assert_eq!(key_index(""), None);
        // Same length and first byte as a key, different after.
        for near_miss in [
            "external_ix",
            "pcq",
            "titles",
            "createx",
            "dux",
            "attributez",
        ] {
            assert_eq!(key_index(near_miss), None, "{near_miss}");
        }
    }

    #[test]
    fn usual_line_takes_fast_path() {
        let text = r#"{"external_id":"bench/7","version":1,"category":"result","flag":"normal","priority":"routine","state":"open","title":"Basic metabolic panel","patient":"Patient/p12","ordering":"Practitioner/3","pcp":"Practitioner/4","created":"2026-12-04T08:00:00Z","attributes":[{"key":"order_code","value":"BMP"},{"value":"final","key":"result_status"}]}"#;

        let fast = parse(text).expect("the fast path reads the usual line");

        assert_eq!(Ok(&fast), serde(text).as_ref());
        assert!(matches!(fast.external_id, Cow::Borrowed("bench/7")));
        assert_eq!(fast.attributes.len(), 2);
        assert_eq!(fast.attributes[1].key, "result_status");
    }

    #[test]
    fn unusual_lines_go_to_serde() {
        let good = r#""external_id":"a","version":1,"category":"refill","title":"t","created":"2026-01-05T15:00:00Z""#;
        let lines = [
            format!(r#"{{{good},"title":"t"}}"#),
            format!(r#"{{{good},"colour":"red"}}"#),
            format!(r#"{{{good},"patient":"P\"1"}}"#),
            format!(r#"{{{good},"flag":null}}"#),
            format!(r#"{{{good},"attributes":[{{"key":"k"}}]}}"#),
            format!(r#"{{{good}}} x"#),
            r#"{"external_id":"a","version":01,"category":"refill","title":"t","created":"2026-01-05T15:00:00Z"}"#.to_string(),
            r#"{"external_id":"a","version":1.0,"category":"refill","title":"t","created":"2026-01-05T15:00:00Z"}"#.to_string(),
            r#"{"external_id":"a","category":"refill","title":"t","created":"2026-01-05T15:00:00Z"}"#.to_string(),
        ];

        for line in &lines {
            assert_eq!(parse(line), None, "{line}");
        }
    }

    /// Generates JSON text for one value of key `KEYS[index]`: valid nine times in
    /// ten, so that whole lines are often valid, and otherwise one of the
    /// values each path must reject or send to serde.
    fn value(index: usize) -> BoxedStrategy<String> {
        let quoted = |s: String| format!("\"{s}\"");
        let text: BoxedStrategy<String> = prop_oneof![
            18 => "[a-zA-Z0-9/ _.é-]{0,12}".prop_map(quoted),
            1 => "[a-z\"\\\\\u{1}-]{1,6}".prop_map(quoted),
            2 => Just("null".to_string()),
            1 => Just("7".to_string()),
            1 => Just("[]".to_string()),
        ]
        .boxed();
        let word = move |names: &'static [&'static str]| {
            prop_oneof![
                18 => proptest::sample::select(names).prop_map(|s| format!("\"{s}\"")),
                1 => Just("\"unknown\"".to_string()),
                1 => Just("null".to_string()),
            ]
        };
        let time = prop_oneof![
            9 => Just("\"2026-01-05T15:00:00Z\"".to_string()),
            9 => Just("\"2026-01-05T09:00:00-06:00\"".to_string()),
            1 => Just("\"yesterday\"".to_string()),
            1 => Just("null".to_string()),
            1 => Just("5".to_string()),
        ];
        match index {
            1 => prop_oneof![
                20 => "[1-9][0-9]{0,5}",
                1 => "0[0-9]{0,3}",
                1 => "[1-9][0-9]{18,20}",
                1 => Just("-1".to_string()),
                1 => Just("1.5".to_string()),
                1 => Just("2e3".to_string()),
                1 => Just("\"1\"".to_string()),
            ]
            .boxed(),
            2 => word(&[
                "refill",
                "result",
                "visit-note",
                "prior-auth",
                "pre-visit-prep",
            ])
            .boxed(),
            3 => word(&["none", "normal", "abnormal", "critical", "unknown"]).boxed(),
            4 => word(&["routine", "urgent", "asap", "stat"]).boxed(),
            5 => word(&["open", "done", "cancelled"]).boxed(),
            12 | 13 => time.boxed(),
            14 => proptest::collection::vec(attribute(text), 0..3)
                .prop_map(|items| format!("[{}]", items.join(",")))
                .boxed(),
            _ => text.boxed(),
        }
    }

    /// Generates one attribute object: usually `key` and `value` in either order,
    /// sometimes a key missing, repeated or unknown.
    fn attribute(text: BoxedStrategy<String>) -> impl Strategy<Value = String> {
        let name = prop_oneof![
            12 => Just("key"),
            12 => Just("value"),
            1 => Just("other"),
        ];
        (proptest::collection::vec((name, text), 1..4), any::<bool>()).prop_map(
            |(members, usual)| {
                let members: Vec<String> = if usual {
                    vec!["\"key\":\"k\"".to_string(), "\"value\":\"v\"".to_string()]
                } else {
                    members
                        .into_iter()
                        .map(|(name, value)| format!("\"{name}\":{value}"))
                        .collect()
                };
                format!("{{{}}}", members.join(","))
            },
        )
    }

    /// Generates a line with each key at most once, in any order, with whitespace
    /// between the tokens. Required keys are nearly always there and the
    /// others half the time, so that many lines are valid; one line in
    /// eight gets a repeated or unknown key as well, and a few get text
    /// after the object.
    fn line() -> impl Strategy<Value = String> {
        let members: Vec<_> = (0..KEYS.len())
            .map(|index| {
                let present = if REQUIRED & (1 << index) != 0 {
                    0.95
                } else {
                    0.5
                };
                proptest::option::weighted(present, value(index))
                    .prop_map(move |value| value.map(|value| (KEYS[index], value)))
            })
            .collect();
        let extra = proptest::option::weighted(
            0.125,
            (0..KEYS.len() + 1).prop_flat_map(|index| {
                let key = KEYS.get(index).copied().unwrap_or("colour");
                (Just(key), value(index.min(KEYS.len() - 1)))
            }),
        );
        let after = prop_oneof![20 => Just(""), 1 => Just(" x"), 1 => Just("}")];
        (
            members,
            extra,
            proptest::sample::select(vec!["", " ", "\t", " \r\n "]),
            after,
        )
            .prop_flat_map(|(members, extra, space, after)| {
                let mut members: Vec<(&str, String)> = members.into_iter().flatten().collect();
                members.extend(extra);
                (Just(members).prop_shuffle(), Just(space), Just(after))
            })
            .prop_map(|(members, space, after)| {
                let parts: Vec<String> = members
                    .into_iter()
                    .map(|(key, value)| format!("{space}\"{key}\"{space}:{space}{value}"))
                    .collect();
                format!("{{{}{space}}}{after}", parts.join(","))
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4_000))]

        #[test]
        fn plain_run_finds_first_stop(
            bytes in proptest::collection::vec(
                prop_oneof![8 => 0x20u8..=0xff, 1 => Just(b'"'), 1 => Just(b'\\'), 1 => 0u8..0x20],
                0..40,
            )
        ) {
            let expected = bytes.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
            prop_assert_eq!(plain_run(&bytes), expected);
        }

        #[test]
        fn fast_path_agrees_with_serde(text in line()) {
            if let Some(fast) = parse(&text) {
                prop_assert_eq!(Ok(fast), serde(&text), "{}", text);
            }
        }
    }
}
