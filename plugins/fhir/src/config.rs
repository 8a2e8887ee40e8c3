//! The connector's TOML configuration: parsing, validation and defaults.
//!
//! Empty text configures a generic FHIR R4 server without a base URL, which
//! maps pushed messages but cannot poll. Every key is optional; unknown keys
//! are rejected with their line and column.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use serde::Deserialize;
use switchboard_sdk::{Category, ConfigError, ResultFlag, line_column};
use toml::Spanned;

use crate::interpretation::InterpretationTable;
use crate::vendor::{
    ATHENAHEALTH_BASE_URL, ECLINICALWORKS_BASE_PREFIX, MAPPED_TYPES, NEXTGEN_BASE_URL, Vendor,
};

/// Results per search page when the config sets none.
pub const DEFAULT_PAGE_SIZE: u32 = 100;
/// Upper bound on `page_size`: larger pages risk the host's response-size
/// and call-deadline limits.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// Minutes each poll re-reads before the previous high-water mark, because
/// `_lastUpdated` does not follow commit order: a transaction that commits
/// late can carry an earlier timestamp than one already read.
pub const DEFAULT_OVERLAP_MINUTES: u32 = 5;
/// Minutes the first poll reads back when no cursor exists yet (one day).
pub const DEFAULT_INITIAL_LOOKBACK_MINUTES: u32 = 24 * 60;
/// The credential the host attaches when the config names none.
pub const DEFAULT_CREDENTIAL: &str = "ehr";

/// The note state assumed for a `DocumentReference` without `docStatus`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocStatusDefault {
    /// As a signed note. Servers that do not track signing publish finished
    /// notes only, as Synthea's bulk exports do.
    #[default]
    Final,
    /// As an unsigned note.
    Preliminary,
}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    pub vendor: Vendor,
    /// Service base URL without a trailing `/`; `None` disables polling and reads.
    pub base_url: Option<String>,
    /// Name of the site credential the host attaches to requests.
    pub credential: String,
    pub resource_types: Vec<String>,
    pub backfill_types: Vec<String>,
    pub page_size: u32,
    pub overlap_minutes: u32,
    pub initial_lookback_minutes: u32,
    pub sort: bool,
    pub include_related: bool,
    /// Read referenced resources a message lacks (observations, orders,
    /// encounters) from the server.
    pub read_missing: bool,
    pub flag_from_reference_range: bool,
    pub observation_results: bool,
    pub doc_status_default: DocStatusDefault,
    /// `Encounter.class` codes that open charts; empty means every class.
    pub encounter_classes: Vec<String>,
    pub interpretation: InterpretationTable,
    /// `Task.code` (`code` or `system|code`) to category.
    pub task_categories: HashMap<String, Category>,
    pub refill_categories: Vec<String>,
    pub refill_extensions: Vec<String>,
    pub since_params: BTreeMap<String, String>,
    pub extra_params: BTreeMap<String, String>,
    /// athenahealth practice id, sent as `ah-practice` on every search.
    pub practice_id: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings::parse("").unwrap_or_else(|_| unreachable!("empty text is a valid config"))
    }
}

impl Settings {
    /// Parses and validates the config text.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] with the line and column of the offending key: bad
    /// TOML, an unknown key or vendor, a value out of range, or a resource
    /// type the vendor cannot search.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let raw: RawSettings =
            toml::from_str(text).map_err(|e| ConfigError::from_toml(&e, text))?;
        let checker = Checker { text };
        checker.resolve(raw)
    }

    /// Returns the search parameter that bounds polls of `resource_type` by time.
    pub fn since_param(&self, resource_type: &str) -> Option<&str> {
        match self.since_params.get(resource_type) {
            Some(param) => Some(param.as_str()),
            None => self.vendor.since_param(resource_type),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawSettings {
    vendor: Vendor,
    base_url: Option<Spanned<String>>,
    credential: Option<Spanned<String>>,
    resource_types: Option<Spanned<Vec<String>>>,
    backfill_types: Option<Spanned<Vec<String>>>,
    page_size: Option<Spanned<u32>>,
    overlap_minutes: Option<Spanned<u32>>,
    initial_lookback_minutes: Option<Spanned<u32>>,
    sort: Option<bool>,
    include_related: Option<bool>,
    read_missing: Option<bool>,
    flag_from_reference_range: Option<bool>,
    observation_results: Option<bool>,
    doc_status_default: DocStatusDefault,
    encounter_classes: Vec<String>,
    interpretation: BTreeMap<String, FlagName>,
    task_categories: BTreeMap<String, Category>,
    refill: RefillSection,
    since_params: Option<Spanned<BTreeMap<String, String>>>,
    extra_params: Option<Spanned<BTreeMap<String, String>>>,
    athenahealth: Option<Spanned<AthenahealthSection>>,
    eclinicalworks: Option<Spanned<EclinicalworksSection>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RefillSection {
    categories: Vec<String>,
    extensions: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AthenahealthSection {
    practice_id: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EclinicalworksSection {
    practice_code: Spanned<String>,
}

/// The flags a site may assign to an interpretation code.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum FlagName {
    Normal,
    Abnormal,
    Critical,
    Unknown,
}

impl From<FlagName> for ResultFlag {
    fn from(flag: FlagName) -> Self {
        match flag {
            FlagName::Normal => ResultFlag::Normal,
            FlagName::Abnormal => ResultFlag::Abnormal,
            FlagName::Critical => ResultFlag::Critical,
            FlagName::Unknown => ResultFlag::Unknown,
        }
    }
}

/// `MedicationRequest.category` codes that mark a refill request when the
/// config lists none. FHIR defines no such code; these are the words EHRs
/// use in local category codes.
const DEFAULT_REFILL_CATEGORIES: &[&str] = &["refill", "renewal", "refill-request"];

/// Validates raw settings against the text they came from, so that errors
/// carry positions.
struct Checker<'t> {
    text: &'t str,
}

impl Checker<'_> {
    fn error_at(&self, span: Range<usize>, message: String) -> ConfigError {
        let (line, column) = line_column(self.text, span.start);
        ConfigError {
            message,
            line: Some(line),
            column: Some(column),
        }
    }

    fn resolve(&self, raw: RawSettings) -> Result<Settings, ConfigError> {
        let vendor = raw.vendor;
        let practice_id = self.athenahealth_practice(vendor, raw.athenahealth)?;
        let practice_code = self.eclinicalworks_practice(vendor, raw.eclinicalworks)?;
        let since_params = self.param_table(raw.since_params, "since_params", check_param_name)?;
        let extra_params = self.param_table(raw.extra_params, "extra_params", check_query)?;

        let base_url = match raw.base_url {
            Some(url) => Some(self.base_url(url)?),
            None => default_base_url(vendor, practice_code.as_deref()),
        };
        let credential = self.credential(raw.credential)?;
        let resource_types = self.types(
            raw.resource_types,
            "resource_types",
            vendor,
            &since_params,
            vendor.default_poll_types(),
        )?;
        let backfill_types = self.types(
            raw.backfill_types,
            "backfill_types",
            vendor,
            &since_params,
            vendor.default_backfill_types(),
        )?;
        let page_size = self.bounded(
            raw.page_size,
            "page_size",
            1,
            MAX_PAGE_SIZE,
            DEFAULT_PAGE_SIZE,
        )?;
        let overlap_minutes = self.bounded(
            raw.overlap_minutes,
            "overlap_minutes",
            0,
            24 * 60,
            DEFAULT_OVERLAP_MINUTES,
        )?;
        let initial_lookback_minutes = self.bounded(
            raw.initial_lookback_minutes,
            "initial_lookback_minutes",
            1,
            366 * 24 * 60,
            DEFAULT_INITIAL_LOOKBACK_MINUTES,
        )?;

        let refill_categories = if raw.refill.categories.is_empty() {
            DEFAULT_REFILL_CATEGORIES
                .iter()
                .map(|c| (*c).to_string())
                .collect()
        } else {
            raw.refill.categories
        };
        let interpretation = InterpretationTable::with_overrides(
            raw.interpretation
                .iter()
                .map(|(k, v)| (k.as_str(), ResultFlag::from(*v))),
        );

        Ok(Settings {
            vendor,
            base_url,
            credential,
            resource_types,
            backfill_types,
            page_size,
            overlap_minutes,
            initial_lookback_minutes,
            sort: raw.sort.unwrap_or(vendor.sorts_by_last_updated()),
            include_related: raw.include_related.unwrap_or(true),
            read_missing: raw.read_missing.unwrap_or(true),
            flag_from_reference_range: raw.flag_from_reference_range.unwrap_or(true),
            observation_results: raw.observation_results.unwrap_or(true),
            doc_status_default: raw.doc_status_default,
            encounter_classes: raw.encounter_classes,
            interpretation,
            task_categories: raw.task_categories.into_iter().collect(),
            refill_categories,
            refill_extensions: raw.refill.extensions,
            since_params,
            extra_params,
            practice_id,
        })
    }

    fn athenahealth_practice(
        &self,
        vendor: Vendor,
        section: Option<Spanned<AthenahealthSection>>,
    ) -> Result<Option<String>, ConfigError> {
        match (vendor, section) {
            (Vendor::Athenahealth, Some(section)) => {
                let id = section.into_inner().practice_id;
                let value = id.get_ref().trim();
                if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(self.error_at(id.span(), format!("athenahealth.practice_id {value:?} is not a practice id; use the numeric id athenaOne shows next to the practice name")));
                }
                Ok(Some(value.to_string()))
            }
            (Vendor::Athenahealth, None) => Err(ConfigError::new(
                "vendor \"athenahealth\" needs the practice to read: add [athenahealth] with practice_id = \"<numeric practice id>\"",
            )),
            (_, Some(section)) => Err(self.error_at(section.span(), format!("[athenahealth] applies only when vendor = \"athenahealth\", and vendor is {:?}", vendor.name()))),
            (_, None) => Ok(None),
        }
    }

    fn eclinicalworks_practice(
        &self,
        vendor: Vendor,
        section: Option<Spanned<EclinicalworksSection>>,
    ) -> Result<Option<String>, ConfigError> {
        match (vendor, section) {
            (Vendor::Eclinicalworks, Some(section)) => {
                let code = section.into_inner().practice_code;
                let value = code.get_ref().trim();
                if value.is_empty() || !value.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(self.error_at(code.span(), format!("eclinicalworks.practice_code {value:?} is not a practice code; use the letters and digits of the practice's FHIR base URL")));
                }
                Ok(Some(value.to_string()))
            }
            (Vendor::Eclinicalworks, None) => Ok(None),
            (_, Some(section)) => Err(self.error_at(section.span(), format!("[eclinicalworks] applies only when vendor = \"eclinicalworks\", and vendor is {:?}", vendor.name()))),
            (_, None) => Ok(None),
        }
    }

    fn base_url(&self, url: Spanned<String>) -> Result<String, ConfigError> {
        let span = url.span();
        let value = url.into_inner();
        let trimmed = value.trim().trim_end_matches('/');
        let rest = trimmed
            .strip_prefix("https://")
            .or_else(|| trimmed.strip_prefix("http://"));
        let valid = match rest {
            Some(rest) => {
                !rest.is_empty() && !rest.starts_with('/') && !trimmed.contains(['?', '#', ' '])
            }
            None => false,
        };
        if !valid {
            return Err(self.error_at(span, format!("base_url {value:?} is not a FHIR service base URL; use https://host/path without a query, such as \"https://ehr.example.com/fhir/r4\"")));
        }
        Ok(trimmed.to_string())
    }

    fn credential(&self, credential: Option<Spanned<String>>) -> Result<String, ConfigError> {
        let Some(credential) = credential else {
            return Ok(DEFAULT_CREDENTIAL.to_string());
        };
        let value = credential.get_ref();
        if value.is_empty()
            || !value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(self.error_at(credential.span(), format!("credential {value:?} is not a credential name; use the letters, digits, '-' or '_' of a name from the site's credentials")));
        }
        Ok(value.clone())
    }

    fn types(
        &self,
        listed: Option<Spanned<Vec<String>>>,
        key: &str,
        vendor: Vendor,
        since_params: &BTreeMap<String, String>,
        defaults: &[&str],
    ) -> Result<Vec<String>, ConfigError> {
        let Some(listed) = listed else {
            return Ok(defaults.iter().map(|t| (*t).to_string()).collect());
        };
        let span = listed.span();
        let types = listed.into_inner();
        if types.is_empty() {
            return Err(self.error_at(span, format!("{key} is empty; list at least one resource type or remove the key for the defaults")));
        }
        for (index, resource_type) in types.iter().enumerate() {
            if !MAPPED_TYPES.contains(&resource_type.as_str()) {
                return Err(self.error_at(span.clone(), format!("{key} names {resource_type:?}, which this connector does not map; use any of: {}", MAPPED_TYPES.join(", "))));
            }
            if types[..index].contains(resource_type) {
                return Err(
                    self.error_at(span.clone(), format!("{key} lists {resource_type:?} twice"))
                );
            }
            if !vendor.searchable(resource_type) && !since_params.contains_key(resource_type) {
                return Err(self.error_at(
                    span.clone(),
                    format!(
                        "{key} names {resource_type:?}, but {} declares no time-bounded search for it; remove it, or set since_params.{resource_type} if this server supports one",
                        vendor.capability_source()
                    ),
                ));
            }
        }
        Ok(types)
    }

    fn bounded(
        &self,
        value: Option<Spanned<u32>>,
        key: &str,
        min: u32,
        max: u32,
        default: u32,
    ) -> Result<u32, ConfigError> {
        match value {
            None => Ok(default),
            Some(value) if (min..=max).contains(value.get_ref()) => Ok(*value.get_ref()),
            Some(value) => Err(self.error_at(
                value.span(),
                format!(
                    "{key} = {} is out of range; use {min} to {max}",
                    value.get_ref()
                ),
            )),
        }
    }

    fn param_table(
        &self,
        table: Option<Spanned<BTreeMap<String, String>>>,
        key: &str,
        check_value: fn(&str) -> bool,
    ) -> Result<BTreeMap<String, String>, ConfigError> {
        let Some(table) = table else {
            return Ok(BTreeMap::new());
        };
        let span = table.span();
        let table = table.into_inner();
        for (resource_type, value) in &table {
            if !MAPPED_TYPES.contains(&resource_type.as_str()) {
                return Err(self.error_at(span.clone(), format!("{key}.{resource_type} is not a resource type this connector maps; use any of: {}", MAPPED_TYPES.join(", "))));
            }
            if !check_value(value) {
                return Err(self.error_at(
                    span.clone(),
                    format!(
                        "{key}.{resource_type} = {value:?} is not valid; {}",
                        describe_param_rule(key)
                    ),
                ));
            }
        }
        Ok(table)
    }
}

fn describe_param_rule(key: &str) -> &'static str {
    if key == "since_params" {
        "give a search parameter name such as \"date\" or \"_lastUpdated\""
    } else {
        "give name=value pairs joined by '&', such as \"category=LAB&status=final\""
    }
}

fn check_param_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
}

fn check_query(query: &str) -> bool {
    !query.is_empty()
        && !query.contains(['?', '#', ' '])
        && query
            .split('&')
            .all(|pair| matches!(pair.split_once('='), Some((name, _)) if check_param_name(name)))
}

fn default_base_url(vendor: Vendor, practice_code: Option<&str>) -> Option<String> {
    match vendor {
        Vendor::Athenahealth => Some(ATHENAHEALTH_BASE_URL.to_string()),
        Vendor::Eclinicalworks => {
            practice_code.map(|code| format!("{ECLINICALWORKS_BASE_PREFIX}/{code}"))
        }
        Vendor::Nextgen => Some(NEXTGEN_BASE_URL.to_string()),
        Vendor::Generic => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_text_is_generic_without_base_url() {
        let settings = Settings::parse("").unwrap();

        assert_eq!(settings.vendor, Vendor::Generic);
        assert_eq!(settings.base_url, None);
        assert_eq!(settings.credential, "ehr");
        assert_eq!(settings.page_size, 100);
        assert_eq!(settings.overlap_minutes, 5);
        assert!(settings.sort);
    }

    #[test]
    fn unknown_vendor_names_the_allowed_ones() {
        let error = Settings::parse("vendor = \"epic\"").unwrap_err();

        for vendor in ["athenahealth", "eclinicalworks", "nextgen", "generic"] {
            assert!(error.message.contains(vendor), "{error}");
        }
        assert_eq!((error.line, error.column), (Some(1), Some(10)));
    }

    #[test]
    fn unknown_key_is_rejected_with_position() {
        let error = Settings::parse("page_size = 50\npagesize = 10\n").unwrap_err();

        assert!(error.message.contains("pagesize"), "{error}");
        assert_eq!(error.line, Some(2));
    }

    #[test]
    fn page_size_out_of_range_points_at_value() {
        let error = Settings::parse("page_size = 5000").unwrap_err();

        assert!(error.message.contains("1 to 1000"), "{error}");
        assert_eq!((error.line, error.column), (Some(1), Some(13)));
    }

    #[test]
    fn athenahealth_requires_practice_id() {
        let missing = Settings::parse("vendor = \"athenahealth\"").unwrap_err();
        let settings = Settings::parse(
            "vendor = \"athenahealth\"\n[athenahealth]\npractice_id = \"195900\"\n",
        )
        .unwrap();

        assert!(missing.message.contains("practice_id"), "{missing}");
        assert_eq!(settings.practice_id.as_deref(), Some("195900"));
        assert_eq!(settings.base_url.as_deref(), Some(ATHENAHEALTH_BASE_URL));
        assert!(!settings.sort);
    }

    #[test]
    fn vendor_section_must_match_vendor() {
        let error = Settings::parse("vendor = \"nextgen\"\n[athenahealth]\npractice_id = \"1\"\n")
            .unwrap_err();

        assert!(
            error
                .message
                .contains("applies only when vendor = \"athenahealth\""),
            "{error}"
        );
    }

    #[test]
    fn eclinicalworks_base_url_comes_from_practice_code() {
        let settings = Settings::parse(
            "vendor = \"eclinicalworks\"\n[eclinicalworks]\npractice_code = \"FEIGCD\"\n",
        )
        .unwrap();

        assert_eq!(
            settings.base_url.as_deref(),
            Some("https://fhir4.eclinicalworks.com/fhir/r4/FEIGCD")
        );
        assert_eq!(settings.since_param("DiagnosticReport"), Some("date"));
    }

    #[test]
    fn unsearchable_type_is_rejected_for_vendor() {
        let error = Settings::parse("vendor = \"eclinicalworks\"\nresource_types = [\"Task\"]\n")
            .unwrap_err();
        let allowed = Settings::parse("vendor = \"eclinicalworks\"\nresource_types = [\"Task\"]\n[since_params]\nTask = \"authored-on\"\n").unwrap();

        assert!(error.message.contains("eCW FHIR Facade 1.6"), "{error}");
        assert_eq!(error.line, Some(2));
        assert_eq!(allowed.since_param("Task"), Some("authored-on"));
    }

    #[test]
    fn unmapped_type_lists_the_mapped_ones() {
        let error = Settings::parse("resource_types = [\"Condition\"]").unwrap_err();

        assert!(error.message.contains("\"Condition\""), "{error}");
        assert!(error.message.contains("MedicationRequest"), "{error}");
    }

    #[test]
    fn base_url_must_be_http() {
        let error = Settings::parse("base_url = \"ftp://ehr.example.test\"").unwrap_err();
        let settings = Settings::parse("base_url = \"https://ehr.example.test/fhir/r4/\"").unwrap();

        assert!(error.message.contains("base_url"), "{error}");
        assert_eq!(
            settings.base_url.as_deref(),
            Some("https://ehr.example.test/fhir/r4")
        );
    }

    #[test]
    fn interpretation_override_rejects_none() {
        let error = Settings::parse("[interpretation]\nHU = \"none\"\n").unwrap_err();
        let settings = Settings::parse("[interpretation]\nHU = \"critical\"\n").unwrap();

        assert!(error.message.contains("unknown variant"), "{error}");
        let coding = crate::fhir::types::Coding {
            system: None,
            code: Some("HU".into()),
            display: None,
        };
        assert_eq!(
            settings.interpretation.flag_of(&coding),
            Some(ResultFlag::Critical)
        );
    }

    #[test]
    fn extra_params_must_be_pairs() {
        let error =
            Settings::parse("[extra_params]\nDiagnosticReport = \"category\"\n").unwrap_err();
        let settings =
            Settings::parse("[extra_params]\nDiagnosticReport = \"category=LAB&status=final\"\n")
                .unwrap();

        assert!(error.message.contains("name=value"), "{error}");
        assert_eq!(
            settings
                .extra_params
                .get("DiagnosticReport")
                .map(String::as_str),
            Some("category=LAB&status=final")
        );
    }
}
