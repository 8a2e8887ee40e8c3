//! One worklist row and the pieces the item page shares with it: ids,
//! due time, status, the routing reason and the action forms.

use chrono_tz::Tz;
use maud::{Markup, html};
use switchboard_engine::{Item, ItemId, ItemStatus};
use switchboard_sdk::Timestamp;

use super::{List, ListParams};
use crate::console::csrf;
use crate::console::format::{encode, local_time};

/// The values every row's links and forms need.
pub(super) struct RowContext<'a> {
    pub(super) site: &'a str,
    /// The caller's person, who may claim and complete; `None` for tokens
    /// that only read and reassign.
    pub(super) person: Option<&'a str>,
    pub(super) csrf: &'a str,
    /// The page to return to after an action.
    pub(super) back: &'a str,
    pub(super) zone: Tz,
    pub(super) now: Timestamp,
    /// True in lists, where each row links to its item page for reassigning;
    /// the item page has the form itself.
    pub(super) link_to_item: bool,
}

impl RowContext<'_> {
    pub(super) fn item_url(&self, id: ItemId) -> String {
        format!("/console/sites/{}/items/{id}", encode(self.site))
    }
}

pub(super) fn items_table(
    context: &RowContext<'_>,
    list: &List,
    params: &ListParams,
    items: &[Item],
) -> Markup {
    let caption = match list {
        List::Mine(person) => format!("Open items owned by or suggested to {person}"),
        List::Pool(role) => format!("Open items in the {role} pool"),
    };
    html! {
        @if items.is_empty() {
            p.empty {
                @if params.filtered() { "No open item matches these filters." }
                @else if params.after.is_empty() { "Nothing to do here: this worklist is empty." }
                @else { "No more items after the previous page." }
            }
        } @else {
            table.stack.worklist {
                caption { (caption) ", by due time then priority. " (items.len()) " on this page." }
                thead {
                    tr {
                        th scope="col" { "Item" }
                        th scope="col" { "EHR ids" }
                        th scope="col" { "Category" }
                        th scope="col" { "Priority" }
                        th scope="col" { "Due" }
                        th scope="col" { "Status" }
                        th scope="col" { "Why it is here" }
                        th scope="col" { "Actions" }
                    }
                }
                tbody {
                    @for item in items {
                        (item_row(context, item))
                    }
                }
            }
        }
    }
}

fn item_row(context: &RowContext<'_>, item: &Item) -> Markup {
    let overdue = item.is_overdue(context.now);
    html! {
        tr id=(format!("item-{}", item.id)) class=[overdue.then_some("overdue")] {
            th scope="row" data-label="Item" {
                a href=(context.item_url(item.id)) { (item.title) }
                " " span.muted { "#" (item.id) }
            }
            td data-label="EHR ids" { (ehr_ids(item)) }
            td data-label="Category" { (category_text(item)) }
            td data-label="Priority" { (item.effective_priority().as_str()) }
            td data-label="Due" { (due_text(item, context.zone, overdue)) }
            td data-label="Status" { (status_text(item)) }
            td data-label="Why it is here" { (reason_text(item)) }
            td data-label="Actions" { (actions(context, item)) }
        }
    }
}

pub(super) fn ehr_ids(item: &Item) -> Markup {
    html! {
        code { (item.source.external_id) }
        @if let Some(patient) = &item.patient {
            br; "patient " code { (patient) }
        }
        @if let Some(encounter) = &item.encounter {
            br; "encounter " code { (encounter) }
        }
    }
}

pub(super) fn category_text(item: &Item) -> String {
    match item.flag {
        switchboard_sdk::ResultFlag::None => item.category.as_str().to_string(),
        flag => format!("{}, {}", item.category.as_str(), flag.as_str()),
    }
}

pub(super) fn due_text(item: &Item, zone: Tz, overdue: bool) -> Markup {
    html! {
        @match item.effective_due() {
            Some(due) => {
                @if overdue { strong.badge { "Overdue" } " " }
                time datetime=(due.to_string()) { (local_time(due, zone)) }
            }
            None => "no due time",
        }
    }
}

pub(super) fn status_text(item: &Item) -> Markup {
    let person = item.person();
    html! {
        (item.status.as_str())
        @match (item.status, person) {
            (ItemStatus::Ready, Some(person)) => { br; "suggested to " (person) }
            (_, Some(person)) => { br; "by " (person) }
            _ => {}
        }
    }
}

pub(super) fn reason_text(item: &Item) -> Markup {
    html! {
        @match &item.owner {
            Some(owner) => {
                (owner.reason)
                // Policies usually name their rule in the reason already.
                @if !owner.rule.is_empty() && !owner.reason.contains(owner.rule.as_str()) {
                    br; span.muted { "rule " (owner.rule) }
                }
            }
            None => "not routed yet",
        }
    }
}

/// Renders the forms a caller may use on `item`. The engine checks again
/// when a form is sent, so this only hides buttons that would certainly fail.
pub(super) fn actions(context: &RowContext<'_>, item: &Item) -> Markup {
    let mine = context.person.is_some() && item.person() == context.person;
    let unowned = item.person().is_none();
    let person = context.person.is_some();
    let (claim, start, hand_back, complete) = match item.status {
        ItemStatus::Ready => (
            person && (unowned || mine),
            false,
            false,
            person && (unowned || mine),
        ),
        ItemStatus::Accepted => (false, mine, mine, mine),
        ItemStatus::InProgress => (false, false, mine, mine),
        _ => (false, false, false, false),
    };
    html! {
        div.actions {
            @if claim { (action_form(context, item.id, "claim", "Claim")) }
            @if start { (action_form(context, item.id, "start", "Start")) }
            @if hand_back { (action_form(context, item.id, "hand-back", "Hand back")) }
            @if complete { (action_form(context, item.id, "complete", "Complete")) }
            @if context.link_to_item {
                a.button href=(context.item_url(item.id)) {
                    "Reassign" span.visually-hidden { " item " (item.id) }
                }
            }
        }
    }
}

fn action_form(context: &RowContext<'_>, id: ItemId, verb: &str, label: &str) -> Markup {
    html! {
        form.inline method="post" action=(format!("{}/{verb}", context.item_url(id))) {
            input type="hidden" name=(csrf::FIELD) value=(context.csrf);
            input type="hidden" name="back" value=(context.back);
            button type="submit" name="verb" value=(verb) {
                (label) span.visually-hidden { " item " (id) }
            }
        }
    }
}
