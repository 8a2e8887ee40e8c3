//! Existence checks for the site, role and person named in a path.
//!
//! A handler calls these after the token's authorization check, so a
//! token of one site gets 403 for every name under another site and cannot
//! learn which names exist there.

use std::sync::Arc;

use switchboard_sdk::Site;

use super::problem::{ApiError, ApiResult};
use crate::app::App;

/// Returns the roster of a loaded site.
///
/// # Errors
///
/// 404 naming the site when the host has no roster loaded for it (no site
/// file, or one whose load was rejected).
pub fn loaded_site(app: &App, site: &str) -> ApiResult<Arc<Site>> {
    app.engine.site(site).map_err(|_| {
        ApiError::not_found(format!(
            "site {site:?} is not loaded on this host; GET /v1/sites lists the sites your token may use"
        ))
    })
}

/// Checks that the site's roster defines `role`.
///
/// # Errors
///
/// 404 naming the role and listing the roles the site defines.
pub fn require_role(site: &Site, role: &str) -> ApiResult<()> {
    if site.role(role).is_some() {
        return Ok(());
    }
    let roles: Vec<&str> = site.roles.iter().map(|r| r.name.as_str()).collect();
    Err(ApiError::not_found(format!(
        "role {role:?} is not defined by site {:?}; its roles are {}",
        site.id,
        roles.join(", ")
    )))
}

/// Checks that `person` is on the site's roster.
///
/// # Errors
///
/// 404 naming the person.
pub fn require_person(site: &Site, person: &str) -> ApiResult<()> {
    if site.person(person).is_some() {
        return Ok(());
    }
    Err(ApiError::not_found(format!(
        "person {person:?} is not on the roster of site {:?}; GET /v1/sites lists each site's people",
        site.id
    )))
}
