//! The claim, start, hand-back, complete and reassign forms' handlers.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use switchboard_engine::{ItemId, Reassignment};

use crate::api::blocking;
use crate::api::problem::ApiError;
use crate::app::App;
use crate::config::TokenScope;
use crate::console::format::{self, encode};
use crate::console::page::{ConsoleError, ConsoleResult};
use crate::console::session::{Viewer, redirect};

/// Returns the message shown after an action. Unknown codes show nothing,
/// so a crafted link cannot put text of its choosing on the page.
pub(super) fn notice_text(code: &str, item: &str) -> Option<String> {
    let id: u64 = item.parse().ok()?;
    let done = match code {
        "claimed" => "claimed; it is yours now",
        "started" => "started",
        "handed-back" => "handed back to its pool",
        "completed" => "completed",
        "reassigned" => "reassigned",
        _ => return None,
    };
    Some(format!("Item {id} {done}."))
}

/// An action named in the form's path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verb {
    Claim,
    Start,
    HandBack,
    Complete,
}

impl Verb {
    fn notice(self) -> &'static str {
        match self {
            Verb::Claim => "claimed",
            Verb::Start => "started",
            Verb::HandBack => "handed-back",
            Verb::Complete => "completed",
        }
    }
}

/// Fields of the claim, start, hand-back and complete forms.
#[derive(Debug, Default, Deserialize)]
pub struct ActionForm {
    /// The console page to return to.
    #[serde(default)]
    back: String,
}

/// `POST …/items/{id}/claim`.
pub async fn claim(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path((site, id)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> ConsoleResult<Response> {
    act(app, viewer, site, id, Verb::Claim, form.back).await
}

/// `POST …/items/{id}/start`.
pub async fn start(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path((site, id)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> ConsoleResult<Response> {
    act(app, viewer, site, id, Verb::Start, form.back).await
}

/// `POST …/items/{id}/hand-back`.
pub async fn hand_back(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path((site, id)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> ConsoleResult<Response> {
    act(app, viewer, site, id, Verb::HandBack, form.back).await
}

/// `POST …/items/{id}/complete`.
pub async fn complete(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path((site, id)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> ConsoleResult<Response> {
    act(app, viewer, site, id, Verb::Complete, form.back).await
}

async fn act(
    app: Arc<App>,
    viewer: Viewer,
    site: String,
    id: String,
    verb: Verb,
    back: String,
) -> ConsoleResult<Response> {
    let id = parse_item_id(&site, &id)?;
    let person = viewer.auth.person(&site)?.to_string();
    {
        let site = site.clone();
        blocking(move || {
            match verb {
                Verb::Claim => app.engine.claim(&site, id, &person)?,
                Verb::Start => app.engine.start(&site, id, &person)?,
                Verb::HandBack => app.engine.hand_back(&site, id, &person)?,
                Verb::Complete => app.engine.complete(&site, id, &person)?,
            };
            Ok(())
        })
        .await?;
    }
    Ok(redirect(&return_to(&site, &back, verb.notice(), id)))
}

/// Fields of the reassign form.
#[derive(Debug, Default, Deserialize)]
pub struct ReassignForm {
    /// New role pool.
    #[serde(default)]
    role: String,
    /// New person; empty leaves the item in the pool.
    #[serde(default)]
    person: String,
    /// The reason the item moves, shown to the new owner.
    #[serde(default)]
    reason: String,
    /// The console page to return to.
    #[serde(default)]
    back: String,
}

/// `POST …/items/{id}/reassign`.
pub async fn reassign(
    State(app): State<Arc<App>>,
    viewer: Viewer,
    Path((site, id)): Path<(String, String)>,
    Form(form): Form<ReassignForm>,
) -> ConsoleResult<Response> {
    let id = parse_item_id(&site, &id)?;
    viewer.auth.require(&site, TokenScope::Staff)?;
    let actor = viewer.principal().actor().to_string();
    if form.reason.trim().is_empty() {
        return Err(ApiError::unprocessable("reason is empty; say why the item moves").into());
    }
    if form.role.is_empty() {
        return Err(ApiError::unprocessable(
            "role is empty; pick the role that should own the item",
        )
        .into());
    }

    let to = Reassignment {
        role: form.role,
        person: (!form.person.is_empty()).then_some(form.person),
        reason: form.reason.trim().to_string(),
    };
    {
        let site = site.clone();
        blocking(move || {
            app.engine.reassign(&site, id, &actor, &to)?;
            Ok(())
        })
        .await?;
    }
    Ok(redirect(&return_to(&site, &form.back, "reassigned", id)))
}

pub(super) fn parse_item_id(site: &str, text: &str) -> Result<ItemId, ConsoleError> {
    text.parse::<u64>().map(ItemId).map_err(|_| {
        ApiError::not_found(format!(
            "item {text:?} of site {site:?} does not exist; item numbers are whole numbers"
        ))
        .into()
    })
}

/// Returns the page an action goes back to, with the notice appended: the
/// page that sent the form when it is a console page, else the worklist.
fn return_to(site: &str, back: &str, notice: &str, id: ItemId) -> String {
    let default = format!("/console/sites/{}/worklist", encode(site));
    let target = format::console_path(back).unwrap_or(&default);
    format::append_query(target, &[("notice", notice), ("item", &id.to_string())])
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    #[test]
    fn notice_names_item_and_action() {
        assert_eq!(
            notice_text("claimed", "12").as_deref(),
            Some("Item 12 claimed; it is yours now.")
        );
        assert_eq!(
            notice_text("completed", "7").as_deref(),
            Some("Item 7 completed.")
        );
    }

    #[test]
    fn notice_ignores_unknown_codes() {
        assert_eq!(notice_text("<b>hi</b>", "12"), None);
        assert_eq!(notice_text("claimed", "twelve"), None);
    }

    #[test]
    fn return_to_stays_in_console() {
        let id = ItemId(5);

        assert_eq!(
            return_to(
                "north",
                "/console/sites/north/pools/ma?after=x",
                "claimed",
                id
            ),
            "/console/sites/north/pools/ma?after=x&notice=claimed&item=5"
        );
        assert_eq!(
            return_to("north", "https://example.org/", "claimed", id),
            "/console/sites/north/worklist?notice=claimed&item=5"
        );
    }

    #[test]
    fn bad_item_number_is_not_found() {
        let error = parse_item_id("north", "12a").unwrap_err();

        let ConsoleError::Api(error) = error else {
            panic!("expected an API error, got {error:?}");
        };
        assert_eq!(error.status, StatusCode::NOT_FOUND);
    }
}
