//! ORU^R01: one `result` item per order (OBR).

use switchboard_sdk::{Batch, Category, EhrState, ResultFlag, WorkItem};

use super::fields::{
    self, PatientContext, coded_text, entity, order_priority, provider, push_attribute,
};
use super::groups::{OrderGroup, OrderStart, order_groups, patient_blocks};
use super::version::status_first;
use super::{Context, Fault, Outcome};
use crate::config::{Settings, UnmappedFlag};
use crate::parse::Segment;

/// The state of an order's results, from its OBX-11 statuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ResultStatus {
    Preliminary,
    Final,
    Corrected,
    Cancelled,
}

impl ResultStatus {
    /// The version rank: preliminary 1, final 2, corrected or cancelled 3.
    fn rank(self) -> u8 {
        match self {
            ResultStatus::Preliminary => 1,
            ResultStatus::Final => 2,
            ResultStatus::Corrected | ResultStatus::Cancelled => 3,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            ResultStatus::Preliminary => "preliminary",
            ResultStatus::Final => "final",
            ResultStatus::Corrected => "corrected",
            ResultStatus::Cancelled => "cancelled",
        }
    }
}

/// Meaning of one OBX-11 code for the order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ObservationStatus {
    /// Counts toward the order's status.
    Counts(ResultStatus),
    /// Empty: takes the order's OBR-25.
    FromOrder,
    /// W (wrong, e.g. sent for the wrong patient) or D (deleted): the
    /// observation is withdrawn.
    Withdrawn,
    /// O (order detail) or N (not asked): not a result at all.
    NotAResult,
}

/// Reads OBX-11 (HL7 table 0085).
fn observation_status(obx: &Segment<'_>) -> Result<ObservationStatus, Fault> {
    let code = fields::code(obx.field(11));
    Ok(match &*code {
        "" => ObservationStatus::FromOrder,
        "C" => ObservationStatus::Counts(ResultStatus::Corrected),
        "F" | "U" | "X" => ObservationStatus::Counts(ResultStatus::Final),
        "P" | "S" | "R" | "I" => ObservationStatus::Counts(ResultStatus::Preliminary),
        "W" | "D" => ObservationStatus::Withdrawn,
        "O" | "N" => ObservationStatus::NotAResult,
        _ => {
            return Err(Fault::at(
                obx,
                11,
                "result status is not a code of HL7 table 0085 (C, D, F, I, N, O, P, R, S, U, W, X)",
            ));
        }
    })
}

/// Reads OBR-25 (HL7 table 0123), `None` when empty.
fn order_status(obr: &Segment<'_>) -> Result<Option<ResultStatus>, Fault> {
    let code = fields::code(obr.field(25));
    Ok(match &*code {
        "" => None,
        "F" => Some(ResultStatus::Final),
        "C" => Some(ResultStatus::Corrected),
        "X" => Some(ResultStatus::Cancelled),
        "O" | "I" | "S" | "A" | "P" | "R" | "Y" | "Z" => Some(ResultStatus::Preliminary),
        _ => {
            return Err(Fault::at(
                obr,
                25,
                "result status is not a code of HL7 table 0123 (A, C, F, I, O, P, R, S, X, Y, Z)",
            ));
        }
    })
}

/// Maps every order of an ORU^R01.
pub(crate) fn map(context: &Context<'_, '_>) -> Result<Outcome, Fault> {
    let message_time = context.message_time()?;
    let mut batch = Batch::default();

    for block in patient_blocks(context.message.segments()) {
        let patient = PatientContext::read(block, context.settings);
        let groups = order_groups(block, OrderStart::OrcOrObr);
        check_observations_are_grouped(block, &groups)?;
        for group in &groups {
            batch
                .items
                .push(map_order(context, group, &patient, message_time)?);
        }
    }

    if batch.items.is_empty() {
        return Err(Fault::missing(
            "OBR",
            "the result message has no OBR segment, so there is no order to report",
        ));
    }
    Ok(Outcome::Mapped(batch))
}

/// Rejects an OBX that comes before any order, since it cannot be
/// attributed to one.
fn check_observations_are_grouped(
    block: &[Segment<'_>],
    groups: &[OrderGroup<'_, '_>],
) -> Result<(), Fault> {
    let first_group = groups.first().map_or(usize::MAX, |g| g.segments[0].index());
    match block
        .iter()
        .find(|s| s.is("OBX") && s.index() < first_group)
    {
        Some(obx) => Err(Fault {
            segment: Some(obx.index()),
            field: "OBX".to_string(),
            message: "this OBX comes before any ORC or OBR, so it belongs to no order".to_string(),
        }),
        None => Ok(()),
    }
}

fn map_order(
    context: &Context<'_, '_>,
    group: &OrderGroup<'_, '_>,
    patient: &PatientContext<'_>,
    message_time: switchboard_sdk::Timestamp,
) -> Result<WorkItem, Fault> {
    let settings = context.settings;
    let Some(obr) = group.obr else {
        let orc = group.orc.map_or(0, |orc| orc.index());
        return Err(Fault {
            segment: Some(orc),
            field: "OBR".to_string(),
            message: "this ORC has no OBR after it".to_string(),
        });
    };

    let (status, observations) = status_of(group, &obr)?;
    let (flag, flagged) = flag_of(group, settings)?;
    let external_id = external_id(context, &obr)?;
    let created =
        fields::first_time(&[(Some(obr), 22), (Some(obr), 7)], settings)?.unwrap_or(message_time);
    let title = coded_text(obr.field(4)).map_or_else(|| "result".to_string(), |t| t.into_owned());

    let mut item = WorkItem::new(
        external_id,
        status_first(status.rank(), message_time),
        Category::Result,
        title,
        created,
    );
    item.flag = flag;
    item.state = if status == ResultStatus::Cancelled {
        EhrState::Cancelled
    } else {
        EhrState::Open
    };
    item.priority = order_priority(
        group.first("TQ1"),
        &[(Some(obr), 27), (group.orc, 7)],
        Some((obr, 5)),
    );
    item.patient = patient.patient.clone();
    item.encounter = patient.encounter.clone();
    item.pcp = patient.pcp.clone();
    item.ordering = provider(obr.field(16), settings.provider_ids).or_else(|| {
        group
            .orc
            .and_then(|orc| provider(orc.field(12), settings.provider_ids))
    });

    push_attribute(
        &mut item.attributes,
        "order_code",
        &fields::code(obr.field(4)),
    );
    push_attribute(
        &mut item.attributes,
        "coding_system",
        &obr.field(4).component(3).text(),
    );
    item.attributes
        .push(fields::attribute("result_status", status.as_str()));
    item.attributes
        .push(fields::attribute("observations", observations.to_string()));
    item.attributes.push(fields::attribute(
        "abnormal_observations",
        flagged.to_string(),
    ));
    Ok(item)
}

/// The order's status and the number of observations that count toward it.
///
/// OBX segments with status O or N are not results and are skipped. Then,
/// in order of precedence:
///
/// - OBR-25 `X` (cancelled) cancels the order whatever its observations say;
/// - with no OBX left, OBR-25 decides (preliminary when it is empty too);
/// - with only withdrawn (W, D) observations, the order is cancelled;
/// - any corrected observation makes the order corrected;
/// - any preliminary one makes it preliminary;
/// - otherwise it is final.
///
/// An empty OBX-11 takes OBR-25, or final when OBR-25 is empty too.
fn status_of(
    group: &OrderGroup<'_, '_>,
    obr: &Segment<'_>,
) -> Result<(ResultStatus, usize), Fault> {
    let from_order = order_status(obr)?;
    if from_order == Some(ResultStatus::Cancelled) {
        return Ok((ResultStatus::Cancelled, 0));
    }

    let mut counted = 0;
    let mut withdrawn = 0;
    let mut status: Option<ResultStatus> = None;
    let mut any_preliminary = false;
    for obx in group.all("OBX") {
        let observation = match observation_status(&obx)? {
            ObservationStatus::NotAResult => continue,
            ObservationStatus::Withdrawn => {
                withdrawn += 1;
                continue;
            }
            ObservationStatus::Counts(s) => s,
            ObservationStatus::FromOrder => from_order.unwrap_or(ResultStatus::Final),
        };
        counted += 1;
        any_preliminary |= observation == ResultStatus::Preliminary;
        status = Some(status.map_or(observation, |s| s.max(observation)));
    }

    let status = match (status, withdrawn) {
        (None, 0) => from_order.unwrap_or(ResultStatus::Preliminary),
        (None, _) => ResultStatus::Cancelled,
        (Some(ResultStatus::Corrected), _) => ResultStatus::Corrected,
        (Some(_), _) if any_preliminary => ResultStatus::Preliminary,
        (Some(s), _) => s,
    };
    Ok((status, counted))
}

/// Severity used to pick the most severe flag: normal < unknown < abnormal
/// < critical.
fn severity(flag: ResultFlag) -> u8 {
    match flag {
        ResultFlag::None => 0,
        ResultFlag::Normal => 1,
        ResultFlag::Unknown => 2,
        ResultFlag::Abnormal => 3,
        ResultFlag::Critical => 4,
    }
}

/// The most severe flag of the order's observations and how many of them
/// are abnormal or critical.
///
/// An observation counts when its status is a result (not O, N, W or D) and
/// it has a value (OBX-5) or a flag (OBX-8); a pending observation without
/// either does not make the order unknown. Each OBX-8 repetition's code is
/// looked up in the site's flag table; an empty OBX-8 is looked up as `""`
/// (unknown unless the site maps it). An order without any counted
/// observation is unknown.
fn flag_of(group: &OrderGroup<'_, '_>, settings: &Settings) -> Result<(ResultFlag, usize), Fault> {
    let mut worst: Option<ResultFlag> = None;
    let mut flagged = 0;
    for obx in group.all("OBX") {
        let is_result = matches!(
            observation_status(&obx)?,
            ObservationStatus::Counts(_) | ObservationStatus::FromOrder
        );
        let value = obx.field(5);
        let flags = obx.field(8);
        if !is_result || (!value.has_value() && !flags.has_value()) {
            continue;
        }
        let flag = observation_flag(&obx, settings)?;
        if matches!(flag, ResultFlag::Abnormal | ResultFlag::Critical) {
            flagged += 1;
        }
        worst = Some(worst.map_or(flag, |w| {
            if severity(flag) > severity(w) {
                flag
            } else {
                w
            }
        }));
    }
    Ok((worst.unwrap_or(ResultFlag::Unknown), flagged))
}

/// The flag of one OBX: the most severe of its OBX-8 codes.
fn observation_flag(obx: &Segment<'_>, settings: &Settings) -> Result<ResultFlag, Fault> {
    let missing = || {
        settings
            .flags
            .get("")
            .copied()
            .unwrap_or(ResultFlag::Unknown)
    };
    let mut worst: Option<ResultFlag> = None;
    for repetition in obx.field(8).repetitions() {
        let code = repetition.component(1).text();
        let code = code.trim();
        if code.is_empty() {
            continue;
        }
        let flag = match (settings.flags.get(code), settings.unmapped_flag) {
            (Some(flag), _) => *flag,
            (None, UnmappedFlag::Unknown) => ResultFlag::Unknown,
            (None, UnmappedFlag::Reject) => {
                return Err(Fault::at(obx, 8, unmapped_flag_message(code)));
            }
        };
        worst = Some(worst.map_or(flag, |w| {
            if severity(flag) > severity(w) {
                flag
            } else {
                w
            }
        }));
    }
    Ok(worst.unwrap_or_else(missing))
}

/// Codes of HL7 table 0078 (interpretation codes, v2.5 to v2.9), which a
/// reject may quote because none of them can be patient data.
const TABLE_0078: &[&str] = &[
    "L", "H", "LL", "HH", "<", ">", "N", "A", "AA", "U", "D", "B", "W", "S", "R", "I", "MS", "VS",
    "LU", "HU", "NEG", "POS", "IND", "DET", "ND", "AC", "RR", "QCF", "TOX", "EX", "EXP", "IE",
    "NR", "NS", "SDD", "SYN-R", "SYN-S", "HM", "HX", "LX", "CAR", "WR", "E", "NCL", "UNK",
];

/// Builds the reject message for an OBX-8 code outside the site's flag table. It
/// quotes the code only when it belongs to HL7 table 0078, and otherwise
/// gives its length, because a misplaced value may be patient data.
fn unmapped_flag_message(code: &str) -> String {
    let described = if TABLE_0078.contains(&code) {
        format!("abnormal flag {code} (HL7 table 0078)")
    } else {
        format!(
            "an abnormal flag of {} characters outside HL7 table 0078",
            code.chars().count()
        )
    };
    format!("{described} is not in the site's flag table; add it under [flags]")
}

/// `result/` followed by the filler order number (OBR-3), else the placer
/// order number (OBR-2), else the message control id and OBR-1 set id.
fn external_id(context: &Context<'_, '_>, obr: &Segment<'_>) -> Result<String, Fault> {
    if let Some(id) = entity(obr.field(3)).or_else(|| entity(obr.field(2))) {
        return Ok(format!("result/{id}"));
    }
    let control_id = context.message.control_id();
    let set_id = obr.field(1).text();
    if control_id.trim().is_empty() {
        return Err(Fault::at(
            obr,
            3,
            "the order has no filler (OBR-3) or placer (OBR-2) order number, and the message has no control id (MSH-10) to stand in",
        ));
    }
    Ok(format!("result/{}/{}", control_id.trim(), set_id.trim()))
}
