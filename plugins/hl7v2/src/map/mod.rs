//! Mapping of parsed messages to work items and events, one module per
//! message family. The crate documentation describes every choice.

mod document;
mod fields;
mod groups;
mod order;
mod pharmacy;
mod referral;
mod result;
mod schedule;
mod version;
mod visit;

use std::borrow::Cow;

use switchboard_sdk::{Batch, Reject, Timestamp};

use crate::config::Settings;
use crate::parse::{Message, Segment};

/// Every message type the connector maps, as (MSH-9.1, MSH-9.2).
pub const HANDLED_TYPES: &[(&str, &str)] = &[
    ("ORU", "R01"),
    ("MDM", "T01"),
    ("MDM", "T02"),
    ("MDM", "T03"),
    ("MDM", "T04"),
    ("MDM", "T05"),
    ("MDM", "T06"),
    ("MDM", "T07"),
    ("MDM", "T08"),
    ("MDM", "T09"),
    ("MDM", "T10"),
    ("MDM", "T11"),
    ("ORM", "O01"),
    ("OML", "O21"),
    ("RDE", "O11"),
    ("RDS", "O13"),
    ("REF", "I12"),
    ("REF", "I13"),
    ("REF", "I14"),
    ("SIU", "S12"),
    ("SIU", "S13"),
    ("SIU", "S14"),
    ("ADT", "A03"),
    ("ADT", "A04"),
    ("ADT", "A08"),
];

/// Outcome of one message that could be read.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Items, events and roster hints (possibly none).
    Mapped(Batch),
    /// Dropped on purpose; the reason is logged, not rejected.
    Ignored(&'static str),
}

/// Why a message was rejected as a whole: the field at fault and what is
/// wrong with it. Never carries field contents that could be patient data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Fault {
    /// 1-based segment number within the message, when one is at fault.
    pub(crate) segment: Option<usize>,
    /// The field, such as `OBX-8`, or a segment id.
    pub(crate) field: String,
    pub(crate) message: String,
}

impl Fault {
    /// A fault in field `n` of `segment`.
    pub(crate) fn at(segment: &Segment<'_>, n: usize, message: impl Into<String>) -> Self {
        Fault {
            segment: Some(segment.index()),
            field: format!("{}-{n}", segment.name()),
            message: message.into(),
        }
    }

    /// A fault about a field or segment that is missing from the message.
    pub(crate) fn missing(field: &str, message: impl Into<String>) -> Self {
        Fault {
            segment: None,
            field: field.to_string(),
            message: message.into(),
        }
    }

    /// The reject the host reports, located at `location` (the message).
    pub(crate) fn into_reject(self, location: &str) -> Reject {
        let location = match self.segment {
            Some(segment) => format!("{location}, segment {segment}"),
            None => location.to_string(),
        };
        Reject {
            location,
            field: self.field,
            message: self.message,
        }
    }
}

/// The message being mapped and the site's settings, which every mapper
/// reads.
pub(crate) struct Context<'m, 'a> {
    pub(crate) message: &'m Message<'a>,
    pub(crate) settings: &'m Settings,
}

impl<'m, 'a> Context<'m, 'a> {
    /// MSH-7, the message time.
    ///
    /// # Errors
    ///
    /// A [`Fault`] naming MSH-7 when it is missing or invalid, because item
    /// versions are ordered by it.
    pub(crate) fn message_time(&self) -> Result<Timestamp, Fault> {
        let msh = self.message.header();
        fields::time(&msh, 7, self.settings)?.ok_or_else(|| {
            Fault::at(
                &msh,
                7,
                "the message time is missing; it is needed to order versions of the same item",
            )
        })
    }
}

/// Maps one parsed message.
///
/// # Errors
///
/// A [`Fault`] naming MSH-9 for a type that is not handled or not accepted,
/// or naming the field that made the message unusable.
pub(crate) fn map_message(message: &Message<'_>, settings: &Settings) -> Result<Outcome, Fault> {
    let message_type = message.message_type();
    let code = message_type.code.trim();
    let trigger = trigger_event(message, &message_type.trigger);
    let processing_id = message.header().field(11).text();

    if settings
        .ignore_processing_ids
        .iter()
        .any(|id| id == processing_id.trim())
    {
        return Ok(Outcome::Ignored(
            "its MSH-11 processing id is listed under ignore_processing_ids",
        ));
    }
    if settings.ignores(code, &trigger) {
        return Ok(Outcome::Ignored("its type is listed under ignore"));
    }
    if !HANDLED_TYPES
        .iter()
        .any(|(c, t)| *c == code && *t == trigger)
    {
        let msh = message.header();
        return Err(Fault::at(
            &msh,
            9,
            format!(
                "{} is not handled by this connector; list it under `ignore` to drop it without a reject",
                describe_type(code, &trigger)
            ),
        ));
    }
    if !settings.accepts(code, &trigger) {
        let msh = message.header();
        return Err(Fault::at(
            &msh,
            9,
            format!(
                "{} is not in this site's `accept` list",
                describe_type(code, &trigger)
            ),
        ));
    }

    let context = Context { message, settings };
    match code {
        "ORU" => result::map(&context),
        "MDM" => document::map(&context, &trigger),
        "ORM" | "OML" => order::map(&context),
        "RDE" => pharmacy::map_order(&context),
        "RDS" => pharmacy::map_dispense(&context),
        "REF" => referral::map(&context, &trigger),
        "SIU" => schedule::map(&context),
        _ => visit::map(&context, &trigger),
    }
}

/// Names a message type for a reject or a log line. The result is
/// `message type ORU^R03` when MSH-9.1 has the form of an HL7 table 0076
/// code (three upper-case letters) and the trigger that of a table 0003
/// event (an upper-case letter and two digits). Otherwise it describes the
/// type without quoting it, because a field shifted by a stray separator
/// may hold patient data.
pub(crate) fn describe_type(code: &str, trigger: &str) -> String {
    let code = code.trim();
    let trigger = trigger.trim();
    let code_shaped = code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase());
    let trigger_shaped = matches!(
        trigger.as_bytes(),
        [letter, tens, units] if letter.is_ascii_uppercase() && tens.is_ascii_digit() && units.is_ascii_digit()
    );
    match (code_shaped, trigger_shaped) {
        (true, true) => format!("message type {code}^{trigger}"),
        (true, false) if trigger.is_empty() => {
            format!("message type {code} without a trigger event")
        }
        (true, false) => {
            format!("message type {code} with a trigger event that is not an HL7 table 0003 code")
        }
        (false, _) => "a message type that is not an HL7 table 0076 code".to_string(),
    }
}

/// MSH-9.2, or EVN-1 for old senders that leave MSH-9.2 empty.
fn trigger_event<'a>(message: &Message<'a>, from_msh: &Cow<'a, str>) -> Cow<'a, str> {
    let trimmed = from_msh.trim();
    if trimmed.len() == from_msh.len() && !trimmed.is_empty() {
        return from_msh.clone();
    }
    if !trimmed.is_empty() {
        return Cow::Owned(trimmed.to_string());
    }
    message
        .segment("EVN")
        .map(|evn| evn.field(1).text())
        .unwrap_or_default()
}
