//! A nudge policy that reminds the owner of open work before it is late and
//! escalates when it stays open.
//!
//! Visit notes are measured against the site's chart deadline (the visit's
//! end plus `chart_deadline_hours`); other items against their due time. Each
//! item gets at most one reminder, one warning and one escalation, at offsets
//! set in the config (`defaults.toml` beside this crate, used when the config
//! text is empty). A nudge is sent only while its recipient is working, in
//! the site's time zone, so the policy never prompts after-hours charting:
//! a nudge that comes due after hours is simply returned by the first call
//! inside them. This policy does not route items.

mod config;
mod message;
mod recipients;
mod schedule;

use switchboard_sdk::host::{self, Level};
use switchboard_sdk::{
    Assignment, ConfigError, Nudge, OpenItem, Policy, RouteContext, RouteError, RouteItem, Site,
    Timestamp,
};

pub use config::{MAX_OFFSET_MINUTES, Offsets, Settings, SettingsError};
pub use message::duration;

/// The configuration a practice starts from; used when the config text is
/// empty or only whitespace and comments.
pub const DEFAULT_CONFIG: &str = include_str!("../defaults.toml");

/// The closure-nudge policy.
#[derive(Debug)]
pub struct NudgePolicy {
    site: Site,
    settings: Settings,
}

impl NudgePolicy {
    /// Validates `text` for `site`; an empty text uses [`DEFAULT_CONFIG`].
    ///
    /// # Errors
    ///
    /// A [`SettingsError`] naming the key, the value and the fix.
    pub fn compile(site: Site, text: &str) -> Result<Self, SettingsError> {
        let settings = config::parse(&site, effective_text(text))?;
        Ok(NudgePolicy { site, settings })
    }

    /// Returns the validated settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Builds the nudges for one item at `now`, one per recipient.
    fn nudges_for(&self, item: &OpenItem, now: Timestamp) -> Vec<Nudge> {
        let deadline_minutes = self.site.chart_deadline_minutes;
        let Some((anchor, offsets)) = schedule::anchor_of(item, &self.settings, deadline_minutes)
        else {
            return Vec::new();
        };
        let Some(level) = schedule::level_due(anchor, &offsets, &item.sent, now) else {
            return Vec::new();
        };

        let text = message::message(item, level, anchor, deadline_minutes, now);
        recipients::recipients(&self.site, item, level, &self.settings.escalation_role, now)
            .into_iter()
            .map(|recipient| Nudge {
                key: item.key,
                level,
                role: recipient.role,
                person: recipient.person,
                message: text.clone(),
            })
            .collect()
    }
}

fn effective_text(text: &str) -> &str {
    let has_statement = text.lines().any(|line| {
        let line = line.trim();
        !line.is_empty() && !line.starts_with('#')
    });
    if has_statement { text } else { DEFAULT_CONFIG }
}

impl Policy for NudgePolicy {
    fn configure(site: Site, config: &str) -> Result<Self, ConfigError> {
        let text = effective_text(config);
        let policy = NudgePolicy::compile(site, config).map_err(|e| e.to_config_error(text))?;

        let role = &policy.settings.escalation_role;
        host::log(
            Level::Info,
            "nudge policy configured",
            &[("site", &policy.site.id), ("escalation_role", role)],
        );
        if !policy.site.people.iter().any(|p| p.has_role(role)) {
            host::log(
                Level::Warn,
                "nobody holds the escalation role; escalations go to its pool",
                &[("role", role)],
            );
        }
        Ok(policy)
    }

    /// This policy does not route; the site's routing policy does.
    fn route(
        &mut self,
        item: &RouteItem,
        _context: &RouteContext,
    ) -> Result<Assignment, RouteError> {
        Err(RouteError::NoMatch(format!(
            "closure-nudges does not route items (item {}); route with the site's routing policy",
            item.key
        )))
    }

    fn nudges(&mut self, items: &[OpenItem], now: Timestamp) -> Vec<Nudge> {
        let nudges: Vec<Nudge> = items
            .iter()
            .flat_map(|item| self.nudges_for(item, now))
            .collect();

        let (items_count, nudges_count) = (items.len().to_string(), nudges.len().to_string());
        host::log(
            Level::Debug,
            "nudges computed",
            &[("items", &items_count), ("nudges", &nudges_count)],
        );
        nudges
    }
}

switchboard_sdk::export_policy!(NudgePolicy);
