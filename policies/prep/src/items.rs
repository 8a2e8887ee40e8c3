//! The prep items for one visit.

use switchboard_sdk::{
    Attribute, Category, PatientItem, PrepItem, PrepVisit, ResultFlag, Timestamp,
};

use crate::config::{Section, Settings};

/// Builds the prep items for `visit`, in a fixed order: results, forms, referrals,
/// then standard items in config order.
pub fn prep_items(settings: &Settings, visit: &PrepVisit) -> Vec<PrepItem> {
    let mut items = Vec::new();
    let built_in = [
        (Category::Result, "results", &settings.results),
        (Category::Form, "forms", &settings.forms),
        (Category::Referral, "referrals", &settings.referrals),
    ];
    for (category, slug, section) in built_in {
        if let Some(section) = section
            && let Some(item) = summary(visit, category, slug, section)
        {
            items.push(item);
        }
    }

    let kind = visit.appointment.kind.trim().to_ascii_lowercase();
    for standard in settings.standard.iter().filter(|s| s.kinds.contains(&kind)) {
        let due = due(visit, standard.lead_minutes);
        items.push(item(
            visit,
            &standard.slug,
            standard.title.clone(),
            due,
            Vec::new(),
        ));
    }
    items
}

/// Builds one item summing up the patient's open items of `category`, or
/// `None` when there are none.
fn summary(
    visit: &PrepVisit,
    category: Category,
    slug: &str,
    section: &Section,
) -> Option<PrepItem> {
    let open: Vec<&PatientItem> = visit
        .open_items
        .iter()
        .filter(|i| i.category == category)
        .collect();
    if open.is_empty() {
        return None;
    }

    let title = format!(
        "{}{}: {}",
        heading(category, open.len()),
        flag_counts(&open),
        titles(&open, section.max_titles)
    );
    let keys = open
        .iter()
        .map(|i| i.key.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let extra = vec![
        attribute("count", &open.len().to_string()),
        attribute("items", &keys),
    ];
    Some(item(
        visit,
        slug,
        title,
        due(visit, section.lead_minutes),
        extra,
    ))
}

fn heading(category: Category, count: usize) -> String {
    let plural = if count == 1 { "" } else { "s" };
    match category {
        Category::Result => format!("review {count} outstanding result{plural}"),
        Category::Form => format!("collect {count} form{plural}"),
        _ => format!("follow up {count} open referral{plural}"),
    }
}

/// ` (1 critical, 2 abnormal)` for results that carry such flags, else empty.
fn flag_counts(items: &[&PatientItem]) -> String {
    let count = |flag| items.iter().filter(|i| i.flag == flag).count();
    let parts: Vec<String> = [
        (ResultFlag::Critical, "critical"),
        (ResultFlag::Abnormal, "abnormal"),
    ]
    .into_iter()
    .map(|(flag, name)| (count(flag), name))
    .filter(|(n, _)| *n > 0)
    .map(|(n, name)| format!("{n} {name}"))
    .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

/// Lists the distinct titles in first-seen order, a repeated one with its count
/// (`CBC (2)`), at most `max` of them and then `and N more`.
fn titles(items: &[&PatientItem], max: usize) -> String {
    let mut distinct: Vec<(&str, usize)> = Vec::new();
    for item in items {
        let title = item.title.trim();
        let title = if title.is_empty() { "untitled" } else { title };
        match distinct.iter_mut().find(|(t, _)| *t == title) {
            Some((_, n)) => *n += 1,
            None => distinct.push((title, 1)),
        }
    }

    let mut listed: Vec<String> = distinct
        .iter()
        .take(max)
        .map(|(t, n)| {
            if *n == 1 {
                t.to_string()
            } else {
                format!("{t} ({n})")
            }
        })
        .collect();
    if distinct.len() > max {
        listed.push(format!("and {} more", distinct.len() - max));
    }
    listed.join(", ")
}

fn due(visit: &PrepVisit, lead_minutes: u32) -> Timestamp {
    visit
        .appointment
        .start
        .plus_minutes(-i64::from(lead_minutes))
}

/// Builds a prep item with the attributes every one carries: the appointment, the
/// visit kind, the slug as `prep`, and the clinician's roster id when known.
fn item(
    visit: &PrepVisit,
    slug: &str,
    title: String,
    due: Timestamp,
    extra: Vec<Attribute>,
) -> PrepItem {
    let appointment = &visit.appointment;
    let mut attributes = vec![
        attribute("appointment", &appointment.external_id),
        attribute("visit_kind", &appointment.kind),
        attribute("prep", slug),
    ];
    if let Some(clinician) = &visit.clinician {
        attributes.push(attribute("clinician", clinician));
    }
    attributes.extend(extra);

    PrepItem {
        appointment: appointment.external_id.clone(),
        slug: slug.to_string(),
        title,
        due: Some(due),
        attributes,
    }
}

fn attribute(key: &str, value: &str) -> Attribute {
    Attribute {
        key: key.to_string(),
        value: value.to_string(),
    }
}
