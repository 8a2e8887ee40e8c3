//! HL7 v2 connector: maps results, documents, orders, pharmacy messages,
//! referrals, appointments and visits to Switchboard work items and events.
//!
//! The host receives messages over MLLP or from inbox folders and passes
//! each one (or a whole batch file) to [`Connector::accept`]. The host, not
//! this plugin, frames MLLP and writes the ACK; it reads MSH-9 and MSH-10 for
//! that with the [`parse`] module of this crate, used as an rlib.
//!
//! # Outcome of one input
//!
//! The input is split into messages ([`parse::split_batch`]), each decoded
//! in the character set its MSH-18 declares and parsed. Each message then
//! has one of three outcomes:
//!
//! - **mapped**: its items, events and roster hints join the batch;
//! - **ignored** on purpose (a type listed under `ignore`, an order that is
//!   not a referral, a document type outside `note_types`): nothing joins
//!   the batch and a debug log line names the control id and the reason;
//! - **rejected**: one [`Reject`] whose `location` names the message (its
//!   number in the input, its line and MSH-10) and the segment, and whose
//!   `field` names the field at fault, such as `OBX-11` or `MSH-9`. Nothing
//!   of a rejected message joins the batch, never half of it. A type the
//!   connector does not handle is rejected naming MSH-9.
//!
//! Only an input in which no message can be found at all (empty, or not
//! starting with MSH, FHS or BHS), or one over the limits of [`parse`]
//! (32 MiB, 100,000 messages), fails as a whole, with
//! [`ConnectorError::Malformed`]. A batch trailer whose count (BTS-1, FTS-1)
//! does not match the messages found adds a reject naming that field.
//!
//! # References
//!
//! - **Patients** come from PID-3: the first repetition with an id (else
//!   PID-2, else PID-4), written `authority|id` when CX-4 names an assigning
//!   authority (its namespace id, else its universal id), as in
//!   `HOSP|12345`, else `12345`. This is the FHIR token form.
//! - **Encounters** are PV1-19, the visit number, written the same way.
//! - **Providers** (ordering, rendering, PCP, appointment clinician) are the
//!   XCN-1 id alone, such as `1234567893`, matching how a roster's `ehr_ids`
//!   list them. With `provider_ids = "qualified"` they are written
//!   `authority|id` when XCN-9 names an assigning authority.
//! - **External ids** of items start with the item's kind so ids from
//!   different message families never collide: `result/`, `note/`,
//!   `refill/`, `referral/`, followed by an entity id (EI) written
//!   `namespace|id` when EI-2 (else EI-3) is present.
//! - The PCP of every item is PD1-4, else the person (ROL-4) of a ROL
//!   segment whose role (ROL-3) is `PP`.
//!
//! # Times
//!
//! A DTM with a UTC offset is exact. One without is read in the site's time
//! zone with the host's `from-local` (daylight saving included), or as UTC
//! when the config sets `local_times = "utc"`. Truncated values (`20260315`)
//! mean the start of the period.
//!
//! # Versions
//!
//! Results put the status first: `version = rank << 48 | MSH-7 in ms`, with
//! rank 1 preliminary, 2 final, 3 corrected or cancelled. So a corrected
//! result always replaces a final one, a final one a preliminary one, and
//! among equal statuses the later message wins. Every other item puts the
//! time first: `version = MSH-7 in ms << 4 | rank` (rank 1 open, 2 done or
//! signed, 3 amended or cancelled, 4 cancelled note), so the latest message
//! wins and the rank only breaks ties. The time uses 48 bits, clamped.
//! Every message that produces an item must carry MSH-7; one without it is
//! rejected naming MSH-7.
//!
//! # Mapping
//!
//! ## ORU^R01 (results)
//!
//! One `result` item per order group (an ORC and its OBR, or an OBR alone,
//! with the segments after it); a message with several PID segments maps
//! each order with the patient above it.
//!
//! - external id: `result/` + filler order number (OBR-3), else placer order
//!   number (OBR-2), else `result/MSH-10/OBR-1`;
//! - title: OBR-4 text (component 2, else 9, else 5, else the code);
//! - ordering: OBR-16, else ORC-12; created: OBR-22, else OBR-7, else MSH-7;
//! - priority: TQ1-9, else OBR-27.6, else ORC-7.6, else OBR-5: `S` stat,
//!   `A` asap, `T` (timing critical) urgent, `R` or anything else routine;
//! - status from OBX-11: O (order detail) and N (not asked) are skipped; any
//!   C makes the order corrected; all W/D (withdrawn) make it cancelled
//!   (state `cancelled`); any P, S, R or I makes it preliminary; F, U and X
//!   are final. An empty OBX-11 takes OBR-25 (final when that is empty too);
//!   an order without observations takes OBR-25 (preliminary when empty).
//!   OBR-25 `X` cancels the order. A code outside HL7 table 0085 rejects the
//!   message naming OBX-11;
//! - flag: the most severe (normal < unknown < abnormal < critical) of the
//!   order's OBX-8 codes, each looked up in the flag table. The defaults
//!   follow HL7 table 0078: N normal; H, L, A, >, < abnormal; HH, LL, AA
//!   critical; any other code unknown. An observation with a value but no
//!   OBX-8 is looked up as `""` (unknown unless the site maps `""`); one with
//!   neither value nor flag (still pending) does not count, and an order
//!   with no counted observation is unknown. With `unmapped_flag =
//!   "reject"`, a code outside the table rejects the message naming OBX-8;
//! - attributes: `order_code`, `coding_system`, `result_status`
//!   (preliminary, final, corrected, cancelled), `observations`,
//!   `abnormal_observations`.
//!
//! ## MDM^T01–T11 (documents)
//!
//! TXA-17 decides: AU or LA is signed; DI, DO, IP, IN and PA are open; any
//! other value rejects the message naming TXA-17. Each message gives:
//!
//! - a `visit-note` item keyed `note/` + TXA-12 (unique document number),
//!   else `note/encounter/` + PV1-19; state `open` while unsigned, `done`
//!   once signed, `cancelled` for T11 (document cancelled). Rendering
//!   clinician: TXA-5, else TXA-22, else TXA-9, else PV1-7. Title: TXA-2
//!   text, else the HL7 table 0270 name of its code. Created: TXA-6, else
//!   TXA-4, else MSH-7;
//! - a chart event (none for T11) for the encounter PV1-19, else the note's
//!   key when the feed sends no visit number: `opened` for an open note,
//!   `signed` for a signed one, `amended` for a signed addendum, edit or
//!   replacement (T05–T10). The visit ended at PV1-45, else TXA-4, else
//!   MSH-7; a signature happened at TXA-22.15, else TXA-8, else EVN-2,
//!   else MSH-7;
//! - for a replacement (T09, T10), the replaced document (TXA-13) as a
//!   cancelled `visit-note` item.
//!
//! `note_types` limits the mapping to some TXA-2 types (such as `PN`, `PR`,
//! `HP`); other documents, such as discharge summaries from a hospital, are
//! then ignored.
//!
//! ## ORM^O01 and OML^O21 (orders)
//!
//! An order whose OBR-4 code is listed in `referral_order_codes`, or whose
//! OBR-4 text contains one of `referral_order_words` (default: `referral`),
//! becomes a `referral` item keyed `referral/` + the placer order number
//! (ORC-2, else OBR-2, else the filler number ORC-3 or OBR-3). ORC-1 cancel
//! codes (CA, OC, OD, DC, DR, CR, OR) and ORC-5 CA/DC cancel it; ORC-5 CM
//! completes it. Other orders are ignored: the practice placed them itself,
//! and what needs routing is their result, which arrives as ORU.
//!
//! ## RDE^O11 and RDS^O13 (pharmacy)
//!
//! Each order (ORC with its RXE) of an encoded order is a `refill` item keyed
//! `refill/` + ORC-2 (else ORC-3, else the prescription number RXE-15),
//! open until dispensed and carrying the refill context as attributes:
//! `medication_code`, `refills_allowed` (RXE-12), `refills_remaining`
//! (RXE-16), `refills_dispensed` (RXE-17). Ordering: ORC-12, else RXE-13,
//! else RXO-14. Each dispensed order (ORC with its RXD) of a dispense is the
//! same key (ORC-2, else ORC-3, else RXD-7) with state `done`: the dispense
//! closes the refill.
//!
//! ## REF^I12, I13, I14 (referrals)
//!
//! A `referral` item keyed `referral/` + RF1-6 (else RF1-11). RF1-1 P
//! (pending) and R (rejected) are open, A (accepted) is done, E (expired) is
//! cancelled; I14 cancels. Priority from RF1-2, due date from RF1-8
//! (expiration), ordering from the PRD segment with role RP (its PRD-7 id),
//! else PV1-8. Title: RF1-3 text + ` referral`.
//!
//! ## SIU^S12, S13, S14 (appointments)
//!
//! An appointment event: id SCH-2 (else SCH-1), patient PID-3 (required),
//! clinician the first AIP-3 (else PV1-7), start TQ1-7, else AIS-4, else
//! SCH-11.4, kind the first non-empty field of `appointment_kind` (default
//! SCH-7, AIS-3, SCH-8; the code, else the text). Cancellations (S15, S17,
//! S26) are not handled: an appointment event cannot say that a visit was
//! cancelled.
//!
//! ## ADT^A03, A04, A08 (visits)
//!
//! A03 ends the visit, so its chart is now open: a chart `opened` event for
//! PV1-19 with PV1-7 (attending) as the clinician, and the visit's end from
//! PV1-45, else EVN-6, else EVN-2, else MSH-7 as both `visit-ended` and
//! `at`. A04 (registration) and A08 (update) describe a visit that has not
//! ended, so no chart exists yet: they give only roster hints. Every ADT
//! message gives roster hints for PV1-7 (role AT), PV1-8 (RP), PV1-9 (CP),
//! PV1-17 (AD), PD1-4 (PP) and ROL segments (their ROL-3 role).
//!
//! # Configuration
//!
//! TOML; unknown keys are errors, and empty text means every default.
//!
//! ```toml
//! # Message types to map (default: every handled type). ADT^* covers
//! # every ADT trigger the connector handles.
//! accept = ["ORU^R01", "MDM^T02", "MDM^T04", "ADT^*"]
//! # Types to drop without a reject, such as traffic the interface engine
//! # sends to every receiver.
//! ignore = ["ADT^A31", "SIU^S15"]
//! # MSH-11 processing ids to drop without a reject (T is training).
//! ignore_processing_ids = ["T"]
//! # Start the flag table empty instead of from the HL7 defaults.
//! replace_default_flags = false
//! # "unknown" (default) or "reject" for an OBX-8 code not in the table.
//! unmapped_flag = "unknown"
//! # "id" (default) or "qualified" (authority|id).
//! provider_ids = "id"
//! # "site" (default): times without an offset are in the site's time zone;
//! # "utc": they are UTC.
//! local_times = "site"
//! referral_order_codes = ["REF001"]
//! referral_order_words = ["referral", "consult"]
//! note_types = ["PN", "PR", "HP"]
//! appointment_kind = ["SCH-7", "AIS-3", "SCH-8"]
//!
//! # OBX-8 code = normal, abnormal, critical or unknown. Overrides and
//! # extends the defaults; "" is a missing OBX-8.
//! [flags]
//! "1" = "abnormal"
//! "2" = "critical"
//! ```

pub mod config;
mod map;
pub mod parse;
mod time;

use std::borrow::Cow;

use switchboard_sdk::host::{self, Level};
use switchboard_sdk::{Batch, ConfigError, Connector, ConnectorError, Reject};

pub use config::Settings;
pub use map::HANDLED_TYPES;
pub use time::LocalTimes;

use crate::map::{Outcome, map_message};
use crate::parse::{Message, ParseError, RawMessage};

/// The HL7 v2 connector: configured once, then fed messages through
/// [`Connector::accept`]. It is push-only; `poll` and `backfill` report
/// that they are unsupported.
#[derive(Debug)]
pub struct Hl7v2Connector {
    settings: Settings,
}

impl Hl7v2Connector {
    /// The configuration in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }
}

impl Connector for Hl7v2Connector {
    fn configure(config: &str) -> Result<Self, ConfigError> {
        Ok(Hl7v2Connector {
            settings: Settings::parse(config)?,
        })
    }

    fn accept(&mut self, message: &[u8], content_type: &str) -> Result<Batch, ConnectorError> {
        check_content_type(content_type)?;
        let envelope =
            parse::split_batch(message).map_err(|e| ConnectorError::Malformed(e.to_string()))?;

        let mut batch = Batch::default();
        for problem in envelope.problems {
            batch.rejects.push(Reject {
                location: format!("line {}", problem.line),
                field: problem.field,
                message: problem.message,
            });
        }
        for (index, raw) in envelope.messages.iter().enumerate() {
            self.accept_one(index + 1, raw, &mut batch);
        }
        Ok(batch)
    }
}

impl Hl7v2Connector {
    /// Maps message number `number` of the input into `batch`, or adds its
    /// reject.
    fn accept_one(&self, number: usize, raw: &RawMessage<'_>, batch: &mut Batch) {
        let text = match parse::decode(raw.bytes) {
            Ok(text) => text,
            Err(error) => return batch.rejects.push(parse_reject(number, raw, &error)),
        };
        let message = match Message::parse(&text) {
            Ok(message) => message,
            Err(error) => return batch.rejects.push(parse_reject(number, raw, &error)),
        };

        match map_message(&message, &self.settings) {
            Ok(Outcome::Mapped(mapped)) => batch.extend(mapped),
            Ok(Outcome::Ignored(reason)) => {
                let control_id = message.control_id();
                let message_type = message.message_type();
                let message_type = map::describe_type(&message_type.code, &message_type.trigger);
                host::log(
                    Level::Debug,
                    "message ignored",
                    &[
                        ("control_id", &control_id),
                        ("message_type", &message_type),
                        ("reason", reason),
                    ],
                );
            }
            Err(fault) => batch.rejects.push(fault.into_reject(&location(
                number,
                raw.line,
                &message.control_id(),
            ))),
        }
    }
}

/// The reject for a message that could not be decoded or parsed.
fn parse_reject(number: usize, raw: &RawMessage<'_>, error: &ParseError) -> Reject {
    let control_id = parse::Header::read(raw.bytes)
        .map(|h| h.control_id)
        .unwrap_or_default();
    let location = location(number, raw.line, &control_id);
    Reject {
        location,
        field: error.field(),
        message: error.to_string(),
    }
}

/// `message 2 (line 14, MSH-10 "ABC123")`: where a message is in the input.
///
/// MSH-10 is an id, so it is shown, but only when it looks like one: at most
/// [`MAX_SHOWN_CONTROL_ID`] printable ASCII characters. Anything else, such
/// as a name shifted into MSH-10 by a stray separator, is left out.
fn location(number: usize, line: usize, control_id: &str) -> String {
    let control_id = control_id.trim();
    let looks_like_id = control_id.len() <= MAX_SHOWN_CONTROL_ID
        && control_id.bytes().all(|b| b.is_ascii_graphic());
    if control_id.is_empty() || !looks_like_id {
        format!("message {number} (line {line})")
    } else {
        format!("message {number} (line {line}, MSH-10 {control_id:?})")
    }
}

/// The longest MSH-10 a location shows. HL7 v2.5 limits the field to 20
/// characters and v2.7 to 199, but real control ids are short: a counter,
/// a UUID (36 characters) or a timestamp with a suffix.
const MAX_SHOWN_CONTROL_ID: usize = 64;

/// Rejects content types that are certainly not HL7 v2 in ER7 encoding
/// (XML, JSON, CSV, FHIR). Anything else, including an empty or generic
/// type such as `text/plain` or `application/octet-stream`, is tried.
fn check_content_type(content_type: &str) -> Result<(), ConnectorError> {
    let lower: Cow<'_, str> = if content_type.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(content_type.to_ascii_lowercase())
    } else {
        Cow::Borrowed(content_type)
    };
    let foreign = ["xml", "json", "csv", "fhir"];
    match foreign.iter().find(|f| lower.contains(*f)) {
        Some(_) => Err(ConnectorError::Unsupported(format!(
            "content type {content_type:?} is not HL7 v2 in its pipe-delimited (ER7) encoding; send application/hl7-v2 or route this input to another connector"
        ))),
        None => Ok(()),
    }
}

switchboard_sdk::export_connector!(Hl7v2Connector);
