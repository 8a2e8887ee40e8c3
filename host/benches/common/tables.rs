//! Rule tables for the table policy, generated for the benchmark site.

use super::items::{medication_code, order_code};

/// Rules of [`plain_rules`] that are not per-code rules.
const FIXED_RULES: usize = 40;

/// Generates a table of `count` plain rules (no CEL) in the shape a large
/// practice grows into. It has `count - 40` rules that each send abnormal
/// results of one test code to the ordering clinician (naming every other
/// generated code), 20 refill rules by medication code, 19 rules by
/// category, priority and age, and the catch-all.
///
/// # Panics
///
/// When `count` is below 40.
pub fn plain_rules(count: usize) -> String {
    assert!(
        count >= FIXED_RULES,
        "a generated table has at least 40 rules"
    );
    let mut text = String::from("schema = 1\n");

    for k in 0..count - FIXED_RULES {
        let code = order_code(2 * k);
        text.push_str(&format!(
            r#"
[[rule]]
name = "result-code-{k}"
reason = "abnormal {code} results go to the ordering clinician"
when = {{ category = "result", flag = ["abnormal", "critical"], attributes = {{ order_code = "{code}" }} }}
role = ["physician", "np"]
strategy = ["ordering", "pcp"]
"#
        ));
    }
    for k in 0..20 {
        let code = medication_code(2 * k);
        text.push_str(&format!(
            r#"
[[rule]]
name = "refill-code-{k}"
reason = "renewals of medication {code} go to the MA of the PCP's pod"
when = {{ category = "refill", attributes = {{ medication_code = "{code}" }} }}
role = "ma"
strategy = "pod"
pod_of = "pcp"
"#
        ));
    }
    text.push_str(CATEGORY_RULES);
    text
}

/// The 19 category rules and the catch-all that end [`plain_rules`].
const CATEGORY_RULES: &str = r#"
[[rule]]
name = "urgent-messages"
reason = "urgent messages go to the PCP"
when = { category = "message", min_priority = "urgent" }
role = ["physician", "np"]
strategy = "pcp"

[[rule]]
name = "flagged-messages"
reason = "messages the portal flagged urgent go to the PCP"
when = { category = "message", attributes = { urgent = "true" } }
role = ["physician", "np"]
strategy = "pcp"

[[rule]]
name = "old-messages"
reason = "messages waiting four hours are raised to urgent"
when = { category = "message", min_age_minutes = 240 }
role = "rn"
strategy = "least-loaded"
raise_priority = "urgent"

[[rule]]
name = "messages"
reason = "messages go to the least-loaded RN"
when = { category = "message" }
role = "rn"
strategy = "least-loaded"

[[rule]]
name = "normal-results"
reason = "normal results go to the RN pool"
when = { category = "result", flag = "normal" }
role = "rn"

[[rule]]
name = "unflagged-results"
reason = "results without a flag go to the ordering clinician"
when = { category = "result", flag = ["unknown", "none"] }
role = ["physician", "np"]
strategy = ["ordering", "pcp"]

[[rule]]
name = "other-results"
reason = "other results go to the ordering clinician"
when = { category = "result" }
role = ["physician", "np"]
strategy = ["ordering", "pcp"]

[[rule]]
name = "refills"
reason = "other renewals go to the MA of the PCP's pod"
when = { category = "refill" }
role = "ma"
strategy = "pod"

[[rule]]
name = "visit-notes"
reason = "notes go to the rendering clinician"
when = { category = "visit-note" }
role = ["physician", "np"]
strategy = "rendering"

[[rule]]
name = "old-forms"
reason = "forms waiting eight hours are raised to urgent"
when = { category = "form", min_age_minutes = 480 }
role = "front-desk"
raise_priority = "urgent"

[[rule]]
name = "forms"
reason = "forms go to the front desk"
when = { category = "form" }
role = "front-desk"

[[rule]]
name = "urgent-referrals"
reason = "urgent referrals are due within four hours"
when = { category = "referral", min_priority = "urgent" }
role = "referral-coordinator"
due_minutes = 240

[[rule]]
name = "referrals"
reason = "referrals go to the coordinator"
when = { category = "referral" }
role = "referral-coordinator"

[[rule]]
name = "old-prior-auths"
reason = "prior authorizations waiting five hours are raised to urgent"
when = { category = "prior-auth", min_age_minutes = 300 }
role = "billing"
raise_priority = "urgent"

[[rule]]
name = "prior-auths"
reason = "prior authorizations go to billing"
when = { category = "prior-auth" }
role = "billing"

[[rule]]
name = "pre-visit-prep"
reason = "prep goes to the MA of the visit clinician's pod"
when = { category = "pre-visit-prep" }
role = "ma"
strategy = "pod"
pod_of = ["attribute:clinician", "pcp"]

[[rule]]
name = "stat-other"
reason = "stat tasks go to the RN pool"
when = { category = "other", min_priority = "stat" }
role = "rn"

[[rule]]
name = "new-other"
reason = "tasks from the last hour go to the front desk"
when = { category = "other", max_age_minutes = 60 }
role = "front-desk"

[[rule]]
name = "other"
reason = "other tasks go to the front desk"
when = { category = "other" }
role = "front-desk"

[[rule]]
name = "catch-all"
reason = "everything else goes to the front desk"
role = "front-desk"
"#;

/// Generates `count` rules with one CEL condition each, which every item evaluates
/// and none matches, then the catch-all.
pub fn cel_rules(count: usize) -> String {
    let mut text = String::from("schema = 1\n");
    for k in 0..count {
        text.push_str(&format!(
            r#"
[[rule]]
name = "cel-{k}"
reason = "never matches"
when = {{ expr = '"order_code" in item.attributes && item.attributes["order_code"] == "none-{k}" && age_minutes > 30' }}
role = "rn"
"#
        ));
    }
    text.push_str(CATCH_ALL);
    text
}

/// Generates the plain twin of [`cel_rules`]: the same `count` conditions
/// written as table keys, then the catch-all.
pub fn plain_twin_rules(count: usize) -> String {
    let mut text = String::from("schema = 1\n");
    for k in 0..count {
        text.push_str(&format!(
            r#"
[[rule]]
name = "plain-{k}"
reason = "never matches"
when = {{ attributes = {{ order_code = "none-{k}" }}, min_age_minutes = 31 }}
role = "rn"
"#
        ));
    }
    text.push_str(CATCH_ALL);
    text
}

const CATCH_ALL: &str = r#"
[[rule]]
name = "catch-all"
reason = "everything else goes to the front desk"
role = "front-desk"
"#;
