//! Property tests: random and mutated input never panics the parser or the
//! connector, and well-formed values read back as they were written.

use hl7v2_connector::Hl7v2Connector;
use hl7v2_connector::parse::{Message, decode, split_batch};
use proptest::prelude::*;
use switchboard_sdk::Connector;
use switchboard_sdk::testing::MockHost;

/// Every fixture message, as seeds for mutation.
fn seeds() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "hl7"))
        .collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// Runs the whole pipeline and checks the location and field of every
/// reject.
fn accept_without_panic(input: &[u8]) {
    let _host = MockHost::new().time_zone("America/Chicago").install();
    let mut connector = Hl7v2Connector::configure("").unwrap();

    if let Ok(batch) = connector.accept(input, "application/hl7-v2") {
        for reject in &batch.rejects {
            assert!(!reject.field.is_empty(), "reject without a field: {reject}");
            assert!(
                !reject.location.is_empty(),
                "reject without a location: {reject}"
            );
        }
    }
}

/// Also drives the parser API directly, reading every field of every
/// segment, as a host or a new mapper might.
fn parse_without_panic(input: &[u8]) {
    let Ok(envelope) = split_batch(input) else {
        return;
    };
    for raw in envelope.messages {
        let Ok(text) = decode(raw.bytes) else {
            continue;
        };
        let Ok(message) = Message::parse(&text) else {
            continue;
        };
        let _ = message.message_type();
        for segment in message.segments() {
            for n in 0..=segment.field_count() + 1 {
                let field = segment.field(n);
                for repetition in field.repetitions() {
                    for component in repetition.components() {
                        for subcomponent in component.subcomponents() {
                            let _ = subcomponent.text();
                        }
                    }
                }
            }
        }
    }
}

/// One edit applied to a seed message.
#[derive(Clone, Debug)]
enum Mutation {
    /// Replace the byte at a position (taken modulo the length).
    Replace(usize, u8),
    /// Insert bytes at a position.
    Insert(usize, Vec<u8>),
    /// Remove a range.
    Remove(usize, usize),
    /// Copy a range to another position.
    Duplicate(usize, usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let special = prop::sample::select(vec![
        b'|', b'^', b'~', b'\\', b'&', b'\r', b'\n', b'"', 0x0B, 0x1C, 0xFF, b'M', b'S', b'H',
        b'X', b'0',
    ]);
    prop_oneof![
        (any::<usize>(), special.clone()).prop_map(|(at, b)| Mutation::Replace(at, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::Replace(at, b)),
        (any::<usize>(), prop::collection::vec(special, 1..8))
            .prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
        (any::<usize>(), 1usize..64).prop_map(|(at, len)| Mutation::Remove(at, len)),
        (any::<usize>(), 1usize..256, any::<usize>())
            .prop_map(|(from, len, to)| Mutation::Duplicate(from, len, to)),
    ]
}

fn apply(seed: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for m in mutations {
        if bytes.is_empty() {
            break;
        }
        let len = bytes.len();
        match m {
            Mutation::Replace(at, b) => bytes[at % len] = *b,
            Mutation::Insert(at, new) => {
                let at = at % (len + 1);
                bytes.splice(at..at, new.iter().copied());
            }
            Mutation::Remove(at, count) => {
                let at = at % len;
                let end = (at + count).min(len);
                bytes.drain(at..end);
            }
            Mutation::Duplicate(from, count, to) => {
                let from = from % len;
                let end = (from + count).min(len);
                let piece: Vec<u8> = bytes[from..end].to_vec();
                let to = to % (len + 1);
                bytes.splice(to..to, piece);
            }
        }
    }
    bytes
}

/// Escapes text the way an HL7 sender must, with the standard delimiters.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\E\\"),
            '|' => out.push_str("\\F\\"),
            '^' => out.push_str("\\S\\"),
            '&' => out.push_str("\\T\\"),
            '~' => out.push_str("\\R\\"),
            c => out.push(c),
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..2048)) {
        parse_without_panic(&input);
        accept_without_panic(&input);
    }

    #[test]
    fn random_text_after_msh_never_panics(tail in "[A-Z0-9|^~\\\\&\r\n \"]{0,600}") {
        let input = format!("MSH|^~\\&|A|B|C|D|20260105083000||ORU^R01|X|P|2.5.1\r{tail}");

        parse_without_panic(input.as_bytes());
        accept_without_panic(input.as_bytes());
    }

    #[test]
    fn mutated_fixtures_never_panic(seed in prop::sample::select(seeds()), mutations in prop::collection::vec(mutation(), 1..6)) {
        let input = apply(&seed, &mutations);

        parse_without_panic(&input);
        accept_without_panic(&input);
    }

    #[test]
    fn escaped_text_reads_back(text in "[ -~éü]{0,80}") {
        // A value of exactly "" is HL7's explicit null, not text.
        prop_assume!(text != "\"\"");
        let input = format!("MSH|^~\\&|A\rNTE|1||{}", escape(&text));

        let message = Message::parse(&input).unwrap();

        prop_assert_eq!(message.segment("NTE").unwrap().field(3).text(), text.as_str());
    }

    #[test]
    fn generated_segments_read_back(segments in prop::collection::vec(("[A-Z][A-Z0-9]{2}".prop_filter("header segments number fields differently", |n| !matches!(n.as_str(), "MSH" | "FHS" | "BHS")), prop::collection::vec("[a-z0-9 ]{0,12}", 0..12)), 0..20)) {
        let mut text = String::from("MSH|^~\\&|APP");
        for (name, fields) in &segments {
            text.push('\r');
            text.push_str(name);
            for field in fields {
                text.push('|');
                text.push_str(field);
            }
        }

        let message = Message::parse(&text).unwrap();

        prop_assert_eq!(message.segments().len(), segments.len() + 1);
        for (segment, (name, fields)) in message.segments()[1..].iter().zip(&segments) {
            prop_assert_eq!(segment.name(), name.as_str());
            for (n, field) in fields.iter().enumerate() {
                prop_assert_eq!(segment.field(n + 1).raw(), field.as_str());
            }
        }
    }
}
