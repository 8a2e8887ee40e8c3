//! A pre-visit prep policy: before each scheduled visit it returns prep
//! items for the host to create, so the chart arrives partly built.
//!
//! For each visit it creates up to three summary items from the patient's
//! open work (results to review, forms to collect, referrals to follow up)
//! and any standard items configured for the visit's kind. Each item has a
//! slug that is stable per appointment, so calling again creates nothing new,
//! and is due a configured lead time before the visit. Every item carries the
//! attributes `appointment`, `visit_kind`, `prep` (the slug) and, when the
//! host resolved one, `clinician` (a roster id), which routing tables use to
//! send prep to the clinician's pod. The config format is in `defaults.toml`
//! beside this crate, used when the config text is empty. This policy does
//! not route items.

mod config;
mod items;

use switchboard_sdk::host::{self, Level};
use switchboard_sdk::{
    Assignment, ConfigError, Policy, PrepItem, PrepVisit, RouteContext, RouteError, RouteItem,
    Site, Timestamp,
};

pub use config::{
    BUILT_IN_SLUGS, MAX_LEAD_MINUTES, MAX_TITLES, Section, Settings, SettingsError, Standard,
};

/// The configuration a practice starts from; used when the config text is
/// empty or only whitespace and comments.
pub const DEFAULT_CONFIG: &str = include_str!("../defaults.toml");

/// The pre-visit prep policy.
#[derive(Debug)]
pub struct PrepPolicy {
    site: String,
    settings: Settings,
}

impl PrepPolicy {
    /// Validates `text`; an empty text uses [`DEFAULT_CONFIG`].
    ///
    /// # Errors
    ///
    /// A [`SettingsError`] naming the key, the value and the fix.
    pub fn compile(site: &Site, text: &str) -> Result<Self, SettingsError> {
        let settings = config::parse(effective_text(text))?;
        Ok(PrepPolicy {
            site: site.id.clone(),
            settings,
        })
    }

    /// Returns the validated settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }
}

fn effective_text(text: &str) -> &str {
    let has_statement = text.lines().any(|line| {
        let line = line.trim();
        !line.is_empty() && !line.starts_with('#')
    });
    if has_statement { text } else { DEFAULT_CONFIG }
}

impl Policy for PrepPolicy {
    fn configure(site: Site, config: &str) -> Result<Self, ConfigError> {
        let policy = PrepPolicy::compile(&site, config)
            .map_err(|e| e.to_config_error(effective_text(config)))?;

        let standard = policy.settings.standard.len().to_string();
        host::log(
            Level::Info,
            "prep policy configured",
            &[("site", &policy.site), ("standard_items", &standard)],
        );
        Ok(policy)
    }

    /// This policy does not route; the site's routing policy does.
    fn route(
        &mut self,
        item: &RouteItem,
        _context: &RouteContext,
    ) -> Result<Assignment, RouteError> {
        Err(RouteError::NoMatch(format!(
            "previsit-prep does not route items (item {}); route with the site's routing policy",
            item.key
        )))
    }

    /// Creates the prep items of every visit that has not started by `now`.
    fn prepare(&mut self, visits: &[PrepVisit], now: Timestamp) -> Vec<PrepItem> {
        let upcoming: Vec<&PrepVisit> = visits
            .iter()
            .filter(|v| v.appointment.start > now)
            .collect();
        let items: Vec<PrepItem> = upcoming
            .iter()
            .flat_map(|visit| items::prep_items(&self.settings, visit))
            .collect();

        let skipped = (visits.len() - upcoming.len()).to_string();
        let (visit_count, item_count) = (visits.len().to_string(), items.len().to_string());
        host::log(
            Level::Debug,
            "prep items created",
            &[
                ("visits", &visit_count),
                ("started_skipped", &skipped),
                ("items", &item_count),
            ],
        );
        items
    }
}

switchboard_sdk::export_policy!(PrepPolicy);
