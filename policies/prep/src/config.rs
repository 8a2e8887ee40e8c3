//! The prep configuration: TOML text, validated.

use std::ops::Range;

use serde::Deserialize;
use switchboard_sdk::{ConfigError, line_column};
use toml::Spanned;

/// The schema version this crate reads.
const SCHEMA: u32 = 1;

/// Maximum lead time in minutes (30 days). A longer one is almost certainly
/// a unit mistake.
pub const MAX_LEAD_MINUTES: u32 = 30 * 24 * 60;

/// Maximum number of titles a prep item lists, because a worklist line
/// longer than that is no longer read.
pub const MAX_TITLES: usize = 20;

/// Slugs of the built-in prep items, which standard items may not reuse.
pub const BUILT_IN_SLUGS: [&str; 3] = ["results", "forms", "referrals"];

/// A validated configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Default minutes before the start when prep items are due.
    pub lead_minutes: u32,
    /// Open results to review; `None` when disabled.
    pub results: Option<Section>,
    /// Open forms to collect; `None` when disabled.
    pub forms: Option<Section>,
    /// Open referrals to follow up; `None` when disabled.
    pub referrals: Option<Section>,
    /// Standard items per visit kind, in config order.
    pub standard: Vec<Standard>,
}

/// A built-in prep item's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// Titles listed before the rest are only counted.
    pub max_titles: usize,
    /// Minutes before the start when the item is due.
    pub lead_minutes: u32,
}

/// A standard prep item for visits of some kinds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Standard {
    /// Visit kinds, lowercased.
    pub kinds: Vec<String>,
    /// Stable name within the visit.
    pub slug: String,
    /// The item's title.
    pub title: String,
    /// Minutes before the start when the item is due.
    pub lead_minutes: u32,
}

/// Why a prep configuration was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// Not valid TOML, or a key this policy does not know.
    #[error("{message}")]
    Syntax {
        /// The parser's message.
        message: String,
        /// Byte range at fault.
        span: Option<Range<usize>>,
    },
    /// `schema` names a version this policy does not read.
    #[error("schema {found} is not supported; this policy reads schema {SCHEMA}")]
    UnsupportedSchema {
        /// The version in the file.
        found: u32,
        /// Byte range of the value.
        span: Range<usize>,
    },
    /// A lead time beyond [`MAX_LEAD_MINUTES`].
    #[error(
        "lead_minutes = {value} is more than {MAX_LEAD_MINUTES} minutes (30 days); lead times are in minutes"
    )]
    LeadTooLong {
        /// The value.
        value: u32,
        /// Byte range of the value.
        span: Range<usize>,
    },
    /// `max_titles` of 0 or above [`MAX_TITLES`].
    #[error("max_titles = {value} must be between 1 and {MAX_TITLES}")]
    MaxTitles {
        /// The value.
        value: usize,
        /// Byte range of the value.
        span: Range<usize>,
    },
    /// A slug with characters outside lowercase letters, digits and `-`.
    #[error("standard item slug {slug:?} is invalid; use 1 to 64 lowercase letters, digits or '-'")]
    InvalidSlug {
        /// The slug.
        slug: String,
        /// Byte range of the value.
        span: Range<usize>,
    },
    /// A standard item reusing a built-in slug.
    #[error("standard item slug {slug:?} is reserved for the built-in prep items ({}); choose another", BUILT_IN_SLUGS.join(", "))]
    ReservedSlug {
        /// The slug.
        slug: String,
        /// Byte range of the value.
        span: Range<usize>,
    },
    /// Two standard items with one slug for the same visit kind.
    #[error(
        "standard items share slug {slug:?} for visit kind {kind:?}; a slug must be unique within a visit"
    )]
    DuplicateSlug {
        /// The slug.
        slug: String,
        /// The visit kind both apply to.
        kind: String,
        /// Byte range of the second slug.
        span: Range<usize>,
    },
    /// A standard item with no kinds, or an empty kind.
    #[error("standard item {slug:?} needs at least one non-empty visit kind in `kinds`")]
    NoKinds {
        /// The slug.
        slug: String,
        /// Byte range of the value.
        span: Range<usize>,
    },
    /// A standard item with an empty title.
    #[error(
        "standard item {slug:?} has an empty title; write the task staff read, such as \"collect the screening questionnaire\""
    )]
    EmptyTitle {
        /// The slug.
        slug: String,
        /// Byte range of the value.
        span: Range<usize>,
    },
}

impl SettingsError {
    fn span(&self) -> Option<&Range<usize>> {
        match self {
            SettingsError::Syntax { span, .. } => span.as_ref(),
            SettingsError::UnsupportedSchema { span, .. }
            | SettingsError::LeadTooLong { span, .. }
            | SettingsError::MaxTitles { span, .. }
            | SettingsError::InvalidSlug { span, .. }
            | SettingsError::ReservedSlug { span, .. }
            | SettingsError::DuplicateSlug { span, .. }
            | SettingsError::NoKinds { span, .. }
            | SettingsError::EmptyTitle { span, .. } => Some(span),
        }
    }

    /// Converts the error into the SDK's [`ConfigError`], positioned in
    /// `text`.
    pub fn to_config_error(&self, text: &str) -> ConfigError {
        let position = self.span().map(|span| line_column(text, span.start));
        ConfigError {
            message: self.to_string(),
            line: position.map(|p| p.0),
            column: position.map(|p| p.1),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    schema: Option<Spanned<u32>>,
    #[serde(default = "default_lead")]
    lead_minutes: Spanned<u32>,
    #[serde(default)]
    results: SectionEntry,
    #[serde(default)]
    forms: SectionEntry,
    #[serde(default)]
    referrals: SectionEntry,
    #[serde(default)]
    standard: Vec<StandardEntry>,
}

/// An hour before the visit: time to pull the chart together on the day.
fn default_lead() -> Spanned<u32> {
    Spanned::new(0..0, 60)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SectionEntry {
    #[serde(default = "enabled")]
    enabled: bool,
    #[serde(default = "default_max_titles")]
    max_titles: Spanned<usize>,
    #[serde(default)]
    lead_minutes: Option<Spanned<u32>>,
}

impl Default for SectionEntry {
    fn default() -> Self {
        SectionEntry {
            enabled: true,
            max_titles: default_max_titles(),
            lead_minutes: None,
        }
    }
}

fn enabled() -> bool {
    true
}

fn default_max_titles() -> Spanned<usize> {
    Spanned::new(0..0, 5)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StandardEntry {
    kinds: Spanned<Vec<String>>,
    slug: Spanned<String>,
    title: Spanned<String>,
    #[serde(default)]
    lead_minutes: Option<Spanned<u32>>,
}

/// Parses and validates `text`.
///
/// # Errors
///
/// A [`SettingsError`] naming the key, the value and the fix.
pub fn parse(text: &str) -> Result<Settings, SettingsError> {
    let file: File = toml::from_str(text).map_err(|e| SettingsError::Syntax {
        message: e.message().trim_end().to_string(),
        span: e.span(),
    })?;

    if let Some(schema) = &file.schema
        && *schema.get_ref() != SCHEMA
    {
        return Err(SettingsError::UnsupportedSchema {
            found: *schema.get_ref(),
            span: schema.span(),
        });
    }

    let lead_minutes = lead(&file.lead_minutes)?;
    let results = section(&file.results, lead_minutes)?;
    let forms = section(&file.forms, lead_minutes)?;
    let referrals = section(&file.referrals, lead_minutes)?;
    let standard = standards(&file.standard, lead_minutes)?;

    Ok(Settings {
        lead_minutes,
        results,
        forms,
        referrals,
        standard,
    })
}

fn lead(value: &Spanned<u32>) -> Result<u32, SettingsError> {
    if *value.get_ref() > MAX_LEAD_MINUTES {
        return Err(SettingsError::LeadTooLong {
            value: *value.get_ref(),
            span: value.span(),
        });
    }
    Ok(*value.get_ref())
}

fn section(entry: &SectionEntry, default_lead: u32) -> Result<Option<Section>, SettingsError> {
    let max_titles = *entry.max_titles.get_ref();
    if !(1..=MAX_TITLES).contains(&max_titles) {
        return Err(SettingsError::MaxTitles {
            value: max_titles,
            span: entry.max_titles.span(),
        });
    }
    let lead_minutes = match &entry.lead_minutes {
        Some(value) => lead(value)?,
        None => default_lead,
    };
    Ok(entry.enabled.then_some(Section {
        max_titles,
        lead_minutes,
    }))
}

fn standards(entries: &[StandardEntry], default_lead: u32) -> Result<Vec<Standard>, SettingsError> {
    let mut standards: Vec<Standard> = Vec::with_capacity(entries.len());
    for entry in entries {
        let standard = standard(entry, default_lead)?;
        let clash = standards
            .iter()
            .filter(|other| other.slug == standard.slug)
            .find_map(|other| {
                standard
                    .kinds
                    .iter()
                    .find(|kind| other.kinds.contains(kind))
            });
        if let Some(kind) = clash {
            return Err(SettingsError::DuplicateSlug {
                slug: standard.slug.clone(),
                kind: kind.clone(),
                span: entry.slug.span(),
            });
        }
        standards.push(standard);
    }
    Ok(standards)
}

fn standard(entry: &StandardEntry, default_lead: u32) -> Result<Standard, SettingsError> {
    let slug = entry.slug.get_ref().clone();
    let span = entry.slug.span();
    let valid = !slug.is_empty()
        && slug.len() <= 64
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        return Err(SettingsError::InvalidSlug { slug, span });
    }
    if BUILT_IN_SLUGS.contains(&slug.as_str()) {
        return Err(SettingsError::ReservedSlug { slug, span });
    }

    let kinds: Vec<String> = entry
        .kinds
        .get_ref()
        .iter()
        .map(|k| k.trim().to_ascii_lowercase())
        .collect();
    if kinds.is_empty() || kinds.iter().any(String::is_empty) {
        return Err(SettingsError::NoKinds {
            slug,
            span: entry.kinds.span(),
        });
    }

    let title = entry.title.get_ref().trim().to_string();
    if title.is_empty() {
        return Err(SettingsError::EmptyTitle {
            slug,
            span: entry.title.span(),
        });
    }

    let lead_minutes = match &entry.lead_minutes {
        Some(value) => lead(value)?,
        None => default_lead,
    };
    Ok(Standard {
        kinds,
        slug,
        title,
        lead_minutes,
    })
}
