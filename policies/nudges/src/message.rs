//! Nudge texts. They carry item keys, staff ids, durations and counts, never
//! patient details.

use switchboard_sdk::{NudgeLevel, OpenItem, Timestamp};

use crate::schedule::Anchor;

/// Writes the text for `item` at `level`, as of `now`.
///
/// For example `chart for item 123 is 2 h past the 24 h closure deadline`.
pub fn message(
    item: &OpenItem,
    level: NudgeLevel,
    anchor: Anchor,
    chart_deadline_minutes: u32,
    now: Timestamp,
) -> String {
    let subject = match anchor {
        Anchor::ChartDeadline(_) => format!("chart for item {}", item.key),
        Anchor::Due(_) => format!("{} item {}", item.category, item.key),
    };
    let owner = match (level, &item.person) {
        (NudgeLevel::Escalation, Some(person)) => format!(" (owner {person})"),
        (NudgeLevel::Escalation, None) => format!(" (in the {} pool)", item.role),
        _ => String::new(),
    };
    let status = status(anchor, chart_deadline_minutes, now);
    format!("{subject}{owner} {status}")
}

fn status(anchor: Anchor, chart_deadline_minutes: u32, now: Timestamp) -> String {
    let minutes = now.minutes_since(anchor.at());
    match anchor {
        Anchor::ChartDeadline(_) => {
            let deadline = deadline_text(chart_deadline_minutes);
            match minutes {
                m if m < 0 => format!(
                    "must be closed within {} ({deadline} closure deadline)",
                    duration(-m)
                ),
                0 => format!("reached its {deadline} closure deadline"),
                m => format!("is {} past the {deadline} closure deadline", duration(m)),
            }
        }
        Anchor::Due(_) => match minutes {
            m if m < 0 => format!("is due in {}", duration(-m)),
            0 => "is due now".to_string(),
            m => format!("is {} past its due time", duration(m)),
        },
    }
}

/// Formats the deadline in whole hours when it is one, as sites set it
/// (`chart_deadline_hours`): `24 h`, `72 h`.
fn deadline_text(minutes: u32) -> String {
    if minutes.is_multiple_of(60) {
        format!("{} h", minutes / 60)
    } else {
        duration(i64::from(minutes))
    }
}

/// Formats whole minutes as `45 min`, `2 h`, `2 h 30 min`, `1 d 2 h`: days
/// drop the minutes, which no longer matter at that scale.
pub fn duration(minutes: i64) -> String {
    let (days, hours, rest) = (minutes / 1440, minutes % 1440 / 60, minutes % 60);
    match (days, hours, rest) {
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_forms() {
        let cases = [
            (0, "0 min"),
            (45, "45 min"),
            (120, "2 h"),
            (150, "2 h 30 min"),
            (1440, "1 d"),
            (1560, "1 d 2 h"),
            (1595, "1 d 2 h"),
        ];

        for (minutes, expected) in cases {
            assert_eq!(duration(minutes), expected, "{minutes} minutes");
        }
    }

    #[test]
    fn deadline_in_whole_hours() {
        assert_eq!(deadline_text(1440), "24 h");
        assert_eq!(deadline_text(4320), "72 h");
        assert_eq!(deadline_text(90), "1 h 30 min");
    }
}
