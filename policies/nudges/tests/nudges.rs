//! Nudge timing with hand-computed times in America/Chicago.
//!
//! Local times in comments are Chicago time: CST is UTC-6, CDT (from
//! 2026-03-08 02:00 until 2026-11-01 02:00) is UTC-5.

use closure_nudges::NudgePolicy;
use switchboard_sdk::testing::PolicyHarness;
use switchboard_sdk::{Category, Nudge, NudgeLevel, OpenItem, Policy, Timestamp};

const SITE: &str = include_str!("site.toml");

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

fn harness(site: &str, config: &str) -> PolicyHarness<NudgePolicy> {
    PolicyHarness::new(site, config, at("2026-03-01T00:00:00Z")).expect("the config is valid")
}

fn nudges(policy: &mut PolicyHarness<NudgePolicy>, items: &[OpenItem], now: &str) -> Vec<Nudge> {
    policy.policy().nudges(items, at(now))
}

fn chart(key: u64, person: &str, visit_ended: &str) -> OpenItem {
    OpenItem {
        key,
        category: Category::VisitNote,
        role: "physician".into(),
        person: Some(person.into()),
        visit_ended: Some(at(visit_ended)),
        created: at(visit_ended),
        due: None,
        sent: Vec::new(),
    }
}

fn due_item(key: u64, category: Category, role: &str, person: Option<&str>, due: &str) -> OpenItem {
    OpenItem {
        key,
        category,
        role: role.into(),
        person: person.map(String::from),
        visit_ended: None,
        created: at("2026-03-01T15:00:00Z"),
        due: Some(at(due)),
        sent: Vec::new(),
    }
}

fn sent(mut item: OpenItem, levels: &[NudgeLevel]) -> OpenItem {
    item.sent = levels.to_vec();
    item
}

fn nudge(key: u64, level: NudgeLevel, role: &str, person: Option<&str>, message: &str) -> Nudge {
    Nudge {
        key,
        level,
        role: role.into(),
        person: person.map(String::from),
        message: message.into(),
    }
}

#[test]
fn chart_reminder_four_hours_before_deadline() {
    let mut policy = harness(SITE, "");
    // Visit ended Tue 15:00 CDT; deadline Wed 15:00 CDT (20:00Z); reminder
    // at 11:00 CDT (16:00Z).
    let item = chart(1, "dr-lee", "2026-03-10T20:00:00Z");

    let early = nudges(
        &mut policy,
        std::slice::from_ref(&item),
        "2026-03-11T15:59:00Z",
    );
    let due = nudges(&mut policy, &[item], "2026-03-11T16:00:00Z");

    assert_eq!(early, []);
    assert_eq!(
        due,
        [nudge(
            1,
            NudgeLevel::Reminder,
            "physician",
            Some("dr-lee"),
            "chart for item 1 must be closed within 4 h (24 h closure deadline)"
        )]
    );
}

#[test]
fn chart_warning_at_deadline() {
    let mut policy = harness(SITE, "");
    let item = sent(
        chart(1, "dr-lee", "2026-03-10T20:00:00Z"),
        &[NudgeLevel::Reminder],
    );

    let result = nudges(&mut policy, &[item], "2026-03-11T20:00:00Z");

    assert_eq!(
        result,
        [nudge(
            1,
            NudgeLevel::Warning,
            "physician",
            Some("dr-lee"),
            "chart for item 1 reached its 24 h closure deadline"
        )]
    );
}

#[test]
fn only_highest_due_level_is_sent() {
    let mut policy = harness(SITE, "");
    // Nothing sent yet, 30 minutes past the deadline (15:30 CDT): the
    // reminder is skipped.
    let item = chart(1, "dr-lee", "2026-03-10T20:00:00Z");

    let result = nudges(&mut policy, &[item], "2026-03-11T20:30:00Z");

    assert_eq!(
        result,
        [nudge(
            1,
            NudgeLevel::Warning,
            "physician",
            Some("dr-lee"),
            "chart for item 1 is 30 min past the 24 h closure deadline"
        )]
    );
}

#[test]
fn sent_level_is_not_repeated() {
    let mut policy = harness(SITE, "");
    let item = sent(
        chart(1, "dr-lee", "2026-03-10T20:00:00Z"),
        &[NudgeLevel::Reminder, NudgeLevel::Warning],
    );

    let result = nudges(&mut policy, &[item], "2026-03-11T20:30:00Z");

    assert_eq!(result, []);
}

#[test]
fn escalation_goes_to_the_role() {
    let mut policy = harness(SITE, "");
    // Deadline Wed 20:00Z; escalation a day later, Thu 15:00 CDT.
    let item = sent(
        chart(1, "dr-ortiz", "2026-03-10T20:00:00Z"),
        &[NudgeLevel::Reminder, NudgeLevel::Warning],
    );

    let result = nudges(&mut policy, &[item], "2026-03-12T20:00:00Z");

    assert_eq!(
        result,
        [nudge(
            1,
            NudgeLevel::Escalation,
            "medical-director",
            Some("dr-lee"),
            "chart for item 1 (owner dr-ortiz) is 1 d past the 24 h closure deadline"
        )]
    );
}

#[test]
fn escalation_skips_owner_when_others_hold_role() {
    let site = format!(
        "{SITE}\n[[people]]\nid = \"dr-vale\"\nroles = [\"physician\", \"medical-director\"]\n"
    );
    let mut policy = harness(&site, "");
    let own = chart(1, "dr-lee", "2026-03-10T20:00:00Z");
    let other = chart(2, "dr-ortiz", "2026-03-10T20:00:00Z");

    let result = nudges(&mut policy, &[own, other], "2026-03-12T20:00:00Z");

    let recipients: Vec<(u64, Option<&str>)> = result
        .iter()
        .map(|n| (n.key, n.person.as_deref()))
        .collect();
    assert_eq!(
        recipients,
        [
            (1, Some("dr-vale")),
            (2, Some("dr-lee")),
            (2, Some("dr-vale"))
        ]
    );
}

#[test]
fn sole_director_gets_own_escalation() {
    let mut policy = harness(SITE, "");
    let item = chart(1, "dr-lee", "2026-03-10T20:00:00Z");

    let result = nudges(&mut policy, &[item], "2026-03-12T20:00:00Z");

    assert_eq!(result.len(), 1);
    assert_eq!(result[0].person.as_deref(), Some("dr-lee"));
    assert_eq!(result[0].level, NudgeLevel::Escalation);
}

#[test]
fn spring_forward_reminder_uses_daylight_time() {
    let mut policy = harness(SITE, "");
    // Visit ended Sat 2026-03-07 12:00 CST (18:00Z). The deadline, 24 h
    // later, is Sun 18:00Z = 13:00 CDT, after the change at 02:00. The
    // reminder is due at 14:00Z = 09:00 CDT, when Dr. Park's Sunday shift
    // (09:00-13:00) starts; at 13:59Z it is 08:59 CDT.
    let item = chart(1, "dr-park", "2026-03-07T18:00:00Z");

    let before_shift = nudges(
        &mut policy,
        std::slice::from_ref(&item),
        "2026-03-08T13:59:00Z",
    );
    let shift_start = nudges(
        &mut policy,
        std::slice::from_ref(&item),
        "2026-03-08T14:00:00Z",
    );
    let warning_after_shift = nudges(
        &mut policy,
        &[sent(item, &[NudgeLevel::Reminder])],
        "2026-03-08T18:00:00Z",
    );

    assert_eq!(before_shift, []);
    assert_eq!(
        shift_start,
        [nudge(
            1,
            NudgeLevel::Reminder,
            "physician",
            Some("dr-park"),
            "chart for item 1 must be closed within 4 h (24 h closure deadline)"
        )]
    );
    assert_eq!(
        warning_after_shift,
        [],
        "13:00 CDT is the end of Dr. Park's shift"
    );
}

#[test]
fn weekend_escalation_waits_for_monday_in_daylight_time() {
    let mut policy = harness(SITE, "");
    // Visit ended Fri 2026-03-06 16:00 CST (22:00Z); deadline Sat 22:00Z;
    // escalation due Sun 22:00Z, a weekend. Monday 08:00 is now CDT, 13:00Z.
    let item = chart(1, "dr-ortiz", "2026-03-06T22:00:00Z");

    let sunday = nudges(
        &mut policy,
        std::slice::from_ref(&item),
        "2026-03-08T22:00:00Z",
    );
    let before_open = nudges(
        &mut policy,
        std::slice::from_ref(&item),
        "2026-03-09T12:59:00Z",
    );
    let at_open = nudges(&mut policy, &[item], "2026-03-09T13:00:00Z");

    assert_eq!(sunday, []);
    assert_eq!(before_open, []);
    // Monday 13:00Z is 39 h after the Saturday 22:00Z deadline.
    assert_eq!(
        at_open,
        [nudge(
            1,
            NudgeLevel::Escalation,
            "medical-director",
            Some("dr-lee"),
            "chart for item 1 (owner dr-ortiz) is 1 d 15 h past the 24 h closure deadline"
        )]
    );
}

#[test]
fn fall_back_reminder_uses_standard_time() {
    let mut policy = harness(SITE, "");
    // Visit ended Sat 2026-10-31 12:00 CDT (17:00Z); deadline Sun 17:00Z =
    // 11:00 CST, after the change back at 02:00. The reminder falls due at
    // 13:00Z = 07:00 CST, before Dr. Park's 09:00 shift: it waits until 15:00Z.
    // Under daylight time 14:59Z would have been 09:59, inside the shift.
    let item = chart(1, "dr-park", "2026-10-31T17:00:00Z");

    let before_shift = nudges(
        &mut policy,
        std::slice::from_ref(&item),
        "2026-11-01T14:59:00Z",
    );
    let shift_start = nudges(
        &mut policy,
        std::slice::from_ref(&item),
        "2026-11-01T15:00:00Z",
    );
    let deadline = nudges(
        &mut policy,
        &[sent(item, &[NudgeLevel::Reminder])],
        "2026-11-01T17:00:00Z",
    );

    assert_eq!(before_shift, []);
    assert_eq!(
        shift_start,
        [nudge(
            1,
            NudgeLevel::Reminder,
            "physician",
            Some("dr-park"),
            "chart for item 1 must be closed within 2 h (24 h closure deadline)"
        )]
    );
    assert_eq!(
        deadline,
        [nudge(
            1,
            NudgeLevel::Warning,
            "physician",
            Some("dr-park"),
            "chart for item 1 reached its 24 h closure deadline"
        )]
    );
}

#[test]
fn past_due_item_reminds_warns_and_escalates() {
    let mut policy = harness(SITE, "");
    // Due Tue 2026-03-10 10:00 CDT (15:00Z).
    let item = due_item(
        7,
        Category::Refill,
        "ma",
        Some("ma-ana"),
        "2026-03-10T15:00:00Z",
    );

    let reminder = nudges(
        &mut policy,
        std::slice::from_ref(&item),
        "2026-03-10T15:00:00Z",
    );
    let warning = nudges(
        &mut policy,
        &[sent(item.clone(), &[NudgeLevel::Reminder])],
        "2026-03-10T19:00:00Z",
    );
    let escalation = nudges(
        &mut policy,
        &[sent(item, &[NudgeLevel::Reminder, NudgeLevel::Warning])],
        "2026-03-11T15:00:00Z",
    );

    assert_eq!(
        reminder,
        [nudge(
            7,
            NudgeLevel::Reminder,
            "ma",
            Some("ma-ana"),
            "refill item 7 is due now"
        )]
    );
    assert_eq!(
        warning,
        [nudge(
            7,
            NudgeLevel::Warning,
            "ma",
            Some("ma-ana"),
            "refill item 7 is 4 h past its due time"
        )]
    );
    assert_eq!(
        escalation,
        [nudge(
            7,
            NudgeLevel::Escalation,
            "medical-director",
            Some("dr-lee"),
            "refill item 7 (owner ma-ana) is 1 d past its due time"
        )]
    );
}

#[test]
fn due_after_hours_waits_for_next_working_minute() {
    let mut policy = harness(SITE, "");
    // Due Thu 2026-03-12 17:30 CDT (22:30Z), after the clinic closes. The
    // next working minute is Fri 08:00 CDT (13:00Z); by then the warning
    // (due + 4 h) is the highest level due.
    let item = due_item(
        8,
        Category::Form,
        "ma",
        Some("ma-ana"),
        "2026-03-12T22:30:00Z",
    );

    let evening = nudges(
        &mut policy,
        std::slice::from_ref(&item),
        "2026-03-12T22:30:00Z",
    );
    let before_open = nudges(
        &mut policy,
        std::slice::from_ref(&item),
        "2026-03-13T12:59:00Z",
    );
    let at_open = nudges(&mut policy, &[item], "2026-03-13T13:00:00Z");

    assert_eq!(evening, []);
    assert_eq!(before_open, []);
    assert_eq!(
        at_open,
        [nudge(
            8,
            NudgeLevel::Warning,
            "ma",
            Some("ma-ana"),
            "form item 8 is 14 h 30 min past its due time"
        )]
    );
}

#[test]
fn pool_item_nudges_role_in_clinic_hours() {
    let mut policy = harness(SITE, "");
    let item = due_item(9, Category::Message, "rn", None, "2026-03-10T15:00:00Z");

    let open = nudges(
        &mut policy,
        std::slice::from_ref(&item),
        "2026-03-10T15:00:00Z",
    );
    let closed = nudges(&mut policy, &[item], "2026-03-10T23:00:00Z");

    assert_eq!(
        open,
        [nudge(
            9,
            NudgeLevel::Reminder,
            "rn",
            None,
            "message item 9 is due now"
        )]
    );
    assert_eq!(closed, [], "18:00 CDT is after clinic hours");
}

#[test]
fn absent_owner_gets_nothing_but_escalation_proceeds() {
    let mut policy = harness(SITE, "");
    // RN Kim is away 2026-03-09 to 2026-03-13.
    let item = due_item(
        10,
        Category::Message,
        "rn",
        Some("rn-kim"),
        "2026-03-10T15:00:00Z",
    );

    let reminder = nudges(
        &mut policy,
        std::slice::from_ref(&item),
        "2026-03-10T15:00:00Z",
    );
    let escalation = nudges(&mut policy, &[item], "2026-03-11T15:00:00Z");

    assert_eq!(reminder, []);
    assert_eq!(
        escalation,
        [nudge(
            10,
            NudgeLevel::Escalation,
            "medical-director",
            Some("dr-lee"),
            "message item 10 (owner rn-kim) is 1 d past its due time"
        )]
    );
}

#[test]
fn chart_signed_before_its_nudge_gets_nothing() {
    let mut policy = harness(SITE, "");
    let signed_soon = chart(1, "dr-lee", "2026-03-10T20:00:00Z");
    let still_open = chart(2, "dr-lee", "2026-03-10T20:00:00Z");

    let before = nudges(
        &mut policy,
        &[signed_soon, still_open.clone()],
        "2026-03-11T15:59:00Z",
    );
    // Dr. Lee signs chart 1 at 15:59Z; the host no longer passes it.
    let after = nudges(&mut policy, &[still_open], "2026-03-11T16:00:00Z");

    assert_eq!(before, []);
    let keys: Vec<u64> = after.iter().map(|n| n.key).collect();
    assert_eq!(keys, [2]);
}

#[test]
fn item_without_due_time_gets_nothing() {
    let mut policy = harness(SITE, "");
    let mut item = due_item(
        11,
        Category::Form,
        "ma",
        Some("ma-ana"),
        "2026-03-10T15:00:00Z",
    );
    item.due = None;

    let result = nudges(&mut policy, &[item], "2026-03-20T15:00:00Z");

    assert_eq!(result, []);
}

#[test]
fn chart_without_visit_end_counts_from_created() {
    let mut policy = harness(SITE, "");
    let mut item = chart(12, "dr-lee", "2026-03-10T20:00:00Z");
    item.visit_ended = None;

    let result = nudges(&mut policy, &[item], "2026-03-11T16:00:00Z");

    assert_eq!(result.len(), 1);
    assert_eq!(result[0].level, NudgeLevel::Reminder);
}

#[test]
fn escalation_role_nobody_holds_goes_to_its_pool() {
    let mut policy = harness(SITE, "[escalation]\nrole = \"practice-manager\"\n");
    let item = due_item(13, Category::Refill, "ma", None, "2026-03-10T15:00:00Z");

    let result = nudges(&mut policy, &[item], "2026-03-11T15:00:00Z");

    assert_eq!(
        result,
        [nudge(
            13,
            NudgeLevel::Escalation,
            "practice-manager",
            None,
            "refill item 13 (in the ma pool) is 1 d past its due time"
        )]
    );
}

#[test]
fn disabled_section_sends_nothing() {
    let mut policy = harness(SITE, "[due]\nenabled = false\n");
    let refill = due_item(
        14,
        Category::Refill,
        "ma",
        Some("ma-ana"),
        "2026-03-10T15:00:00Z",
    );
    let note = chart(15, "dr-lee", "2026-03-10T20:00:00Z");

    let result = nudges(&mut policy, &[refill, note], "2026-03-11T16:00:00Z");

    let keys: Vec<u64> = result.iter().map(|n| n.key).collect();
    assert_eq!(keys, [15]);
}

#[test]
fn custom_offsets_move_the_levels() {
    let mut policy = harness(
        SITE,
        "[charts]\nreminder_minutes = -60\nwarning_minutes = 120\nescalation_minutes = 480\n",
    );
    let item = chart(16, "dr-lee", "2026-03-10T20:00:00Z");

    // Deadline Wed 20:00Z; the reminder now comes at 19:00Z (14:00 CDT).
    let three_hours_before = nudges(
        &mut policy,
        std::slice::from_ref(&item),
        "2026-03-11T17:00:00Z",
    );
    let one_hour_before = nudges(&mut policy, &[item], "2026-03-11T19:00:00Z");

    assert_eq!(three_hours_before, []);
    assert_eq!(one_hour_before.len(), 1);
    assert_eq!(
        one_hour_before[0].message,
        "chart for item 16 must be closed within 1 h (24 h closure deadline)"
    );
}

#[test]
fn nudge_policy_does_not_route() {
    let mut policy = harness(SITE, "");
    let item = switchboard_sdk::RouteItem {
        key: 1,
        category: Category::Form,
        flag: switchboard_sdk::ResultFlag::None,
        priority: switchboard_sdk::Priority::Routine,
        created: at("2026-03-10T15:00:00Z"),
        due: None,
        patient: None,
        ordering: None,
        rendering: None,
        pcp: None,
        attributes: Vec::new(),
    };

    let result = policy.route(&item, &switchboard_sdk::RouteContext::default());

    assert!(matches!(
        result,
        Err(switchboard_sdk::RouteError::NoMatch(_))
    ));
}
