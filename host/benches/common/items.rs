//! The benchmark site and a deterministic mix of primary-care work items.

use switchboard_sdk::{Attribute, Category, Priority, ResultFlag, Timestamp, WorkItem};

/// A two-pod practice: three physicians, one NP, two RNs, three MAs, two
/// at the front desk, billing and a referral coordinator. Providers carry
/// the EHR ids the generated items refer to.
pub const SITE_TOML: &str = r#"
schema = 1
id = "bench"
name = "Benchmark Family Practice"
time_zone = "America/Chicago"
clinic_hours = ["mon-fri 08:00-17:00"]
closing_time = "18:00"
chart_deadline_hours = 24

[[roles]]
name = "physician"
clinician = true

[[roles]]
name = "np"
clinician = true

[[roles]]
name = "rn"

[[roles]]
name = "ma"

[[roles]]
name = "front-desk"

[[roles]]
name = "billing"

[[roles]]
name = "referral-coordinator"

[[people]]
id = "dr-ames"
name = "Dr. Ames"
roles = ["physician"]
pod = "east"
ehr_ids = ["Practitioner/ames", "1003000126"]

[[people]]
id = "dr-boyd"
name = "Dr. Boyd"
roles = ["physician"]
pod = "west"
ehr_ids = ["Practitioner/boyd", "1003000134"]

[[people]]
id = "dr-cole"
name = "Dr. Cole"
roles = ["physician"]
pod = "east"
ehr_ids = ["Practitioner/cole"]

[[people]]
id = "np-dunn"
name = "D. Dunn, NP"
roles = ["np"]
pod = "west"
ehr_ids = ["Practitioner/dunn", "1003000142"]

[[people]]
id = "rn-eve"
name = "E. Eve, RN"
roles = ["rn"]

[[people]]
id = "rn-ford"
name = "F. Ford, RN"
roles = ["rn"]

[[people]]
id = "ma-gail"
name = "Gail M."
roles = ["ma"]
pod = "east"

[[people]]
id = "ma-hugo"
name = "Hugo M."
roles = ["ma"]
pod = "east"

[[people]]
id = "ma-ivy"
name = "Ivy M."
roles = ["ma"]
pod = "west"

[[people]]
id = "fd-jo"
name = "Jo F."
roles = ["front-desk"]

[[people]]
id = "fd-kai"
name = "Kai F."
roles = ["front-desk"]

[[people]]
id = "bill-lu"
name = "Lu B."
roles = ["billing"]

[[people]]
id = "ref-max"
name = "Max R."
roles = ["referral-coordinator"]
"#;

/// EHR references of ordering and rendering providers, one of them
/// outside the practice (it resolves to no roster person).
const PROVIDER_REFS: &[&str] = &[
    "Practitioner/ames",
    "1003000134",
    "Practitioner/cole",
    "Practitioner/dunn",
    "Practitioner/outside-cardiology",
];

/// EHR references of primary-care providers.
const PCP_REFS: &[&str] = &[
    "Practitioner/ames",
    "Practitioner/boyd",
    "Practitioner/cole",
    "1003000142",
];

/// Distinct test codes on results; the generated 200-rule table names
/// half of them.
pub const ORDER_CODES: usize = 320;

/// Distinct medication codes on refills.
pub const MEDICATION_CODES: usize = 40;

/// Returns the test code with number `n`, shaped like a LOINC code.
pub fn order_code(n: usize) -> String {
    format!("{}-{}", 10_000 + n, n % 10)
}

/// Returns the medication code with number `n`, shaped like an RxNorm
/// code.
pub fn medication_code(n: usize) -> String {
    (300_000 + n * 7).to_string()
}

/// `count` work items as a connector would report them, in a fixed mix:
/// 35% results (60% normal, 30% abnormal, 5% critical, 5% unflagged), 20%
/// refills, 15% messages, 10% visit notes, 8% forms, 5% referrals, 4%
/// prior authorizations and 3% other. Ages spread over ten hours before
/// [`super::NOW`].
pub fn work_items(count: usize, now: Timestamp) -> Vec<WorkItem> {
    (0..count).map(|i| work_item(i, now)).collect()
}

fn work_item(i: usize, now: Timestamp) -> WorkItem {
    // A multiplicative hash spreads the index so that neighbouring items
    // differ in every field.
    let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 16;
    let pick = |modulus: u64, shift: u32| ((h >> shift) % modulus) as usize;

    let category = match pick(100, 0) {
        0..35 => Category::Result,
        35..55 => Category::Refill,
        55..70 => Category::Message,
        70..80 => Category::VisitNote,
        80..88 => Category::Form,
        88..93 => Category::Referral,
        93..97 => Category::PriorAuth,
        _ => Category::Other,
    };
    let created = now.plus_minutes(-(pick(600, 8) as i64));
    let mut item = WorkItem::new(format!("bench/{i}"), 1, category, title(category), created);
    item.patient = Some(format!("Patient/p{}", pick(5_000, 20)));
    item.pcp = Some(PCP_REFS[pick(PCP_REFS.len() as u64, 12)].to_string());
    item.priority = match pick(50, 30) {
        0 => Priority::Stat,
        1..7 => Priority::Urgent,
        _ => Priority::Routine,
    };

    match category {
        Category::Result => {
            item.flag = match pick(20, 36) {
                0..12 => ResultFlag::Normal,
                12..18 => ResultFlag::Abnormal,
                18 => ResultFlag::Critical,
                _ => ResultFlag::Unknown,
            };
            item.ordering = Some(PROVIDER_REFS[pick(PROVIDER_REFS.len() as u64, 40)].into());
            item.attributes = vec![
                attribute("order_code", order_code(pick(ORDER_CODES as u64, 44))),
                attribute("result_status", "final".to_string()),
            ];
        }
        Category::Refill => {
            item.ordering = item.pcp.clone();
            item.attributes = vec![
                attribute(
                    "medication_code",
                    medication_code(pick(MEDICATION_CODES as u64, 44)),
                ),
                attribute("refills_remaining", pick(4, 40).to_string()),
            ];
        }
        Category::VisitNote => {
            item.rendering = Some(PROVIDER_REFS[pick(4, 40)].into());
            item.encounter = Some(format!("Encounter/e{i}"));
        }
        Category::Message if pick(10, 40) == 0 => {
            item.attributes = vec![attribute("urgent", "true".to_string())];
        }
        _ => {}
    }
    item
}

fn title(category: Category) -> &'static str {
    match category {
        Category::Result => "Basic metabolic panel",
        Category::Refill => "Lisinopril 10 mg tablet",
        Category::Message => "Patient message",
        Category::VisitNote => "Office visit",
        Category::Form => "Disability form",
        Category::Referral => "Cardiology referral",
        Category::PriorAuth => "MRI lumbar spine",
        _ => "Other task",
    }
}

fn attribute(key: &str, value: String) -> Attribute {
    Attribute {
        key: key.to_string(),
        value,
    }
}

/// Serializes each item as one JSON line, the form `switchboard policy
/// route` reads.
pub fn json_lines(items: &[WorkItem]) -> Vec<String> {
    items
        .iter()
        .map(|item| serde_json::to_string(item).expect("a work item serializes"))
        .collect()
}
