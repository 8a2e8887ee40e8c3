//! Differences between the EHR vendors' FHIR R4 servers.
//!
//! Each fact below comes from the vendor's published CapabilityStatement or
//! developer pages; the crate docs list the sources. Where a vendor declares
//! no search support for a resource type, the connector refuses to poll that
//! type rather than send a search the server may reject or ignore.

use serde::Deserialize;

/// Resource types the connector maps, in the order they are polled.
pub const MAPPED_TYPES: &[&str] = &[
    "MedicationRequest",
    "DiagnosticReport",
    "Observation",
    "ServiceRequest",
    "Task",
    "Encounter",
    "Composition",
    "DocumentReference",
    "QuestionnaireResponse",
    "Appointment",
    "Claim",
    "Practitioner",
    "PractitionerRole",
];

/// The EHR behind the FHIR server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Vendor {
    /// athenahealth (athenaOne) FHIR R4.
    Athenahealth,
    /// eClinicalWorks FHIR R4 facade.
    Eclinicalworks,
    /// NextGen Enterprise FHIR R4.
    Nextgen,
    /// Any FHIR R4 server that follows the specification's search rules.
    #[default]
    Generic,
}

/// athenahealth's production FHIR R4 base URL.
pub const ATHENAHEALTH_BASE_URL: &str = "https://api.platform.athenahealth.com/fhir/r4";

/// eClinicalWorks' provider-facing FHIR R4 facade; the practice code follows.
pub const ECLINICALWORKS_BASE_PREFIX: &str = "https://fhir4.eclinicalworks.com/fhir/r4";

/// NextGen Enterprise's FHIR R4 base URL, as its CapabilityStatement's
/// `implementation.url` gives it.
pub const NEXTGEN_BASE_URL: &str = "https://fhir.nextgen.com/nge/prod/fhir-api-r4/fhir/R4";

impl Vendor {
    /// Returns the name used in the config file and in messages.
    pub fn name(self) -> &'static str {
        match self {
            Vendor::Athenahealth => "athenahealth",
            Vendor::Eclinicalworks => "eclinicalworks",
            Vendor::Nextgen => "nextgen",
            Vendor::Generic => "generic",
        }
    }

    /// Returns whether searches ask for `_sort=_lastUpdated` by default.
    ///
    /// Only the generic profile does: athenahealth declares `_sort` for
    /// DocumentReference alone, and eClinicalWorks and NextGen declare it for
    /// no resource.
    pub fn sorts_by_last_updated(self) -> bool {
        self == Vendor::Generic
    }

    /// Returns the search parameter that bounds a poll by time for
    /// `resource_type`, or `None` when the vendor declares none for it.
    ///
    /// eClinicalWorks declares no `_lastUpdated`, so its polls filter on each
    /// type's clinical date instead.
    pub fn since_param(self, resource_type: &str) -> Option<&'static str> {
        match self {
            Vendor::Generic => Some("_lastUpdated"),
            Vendor::Athenahealth | Vendor::Nextgen => {
                self.searchable(resource_type).then_some("_lastUpdated")
            }
            Vendor::Eclinicalworks => match resource_type {
                "DiagnosticReport" | "DocumentReference" | "Encounter" | "Observation" => {
                    Some("date")
                }
                "MedicationRequest" => Some("authoredon"),
                "ServiceRequest" | "QuestionnaireResponse" => Some("authored"),
                _ => None,
            },
        }
    }

    /// Returns whether the vendor's CapabilityStatement declares a
    /// time-bounded search for `resource_type`. Always true for the generic
    /// profile.
    pub fn searchable(self, resource_type: &str) -> bool {
        match self {
            Vendor::Generic => true,
            Vendor::Athenahealth => {
                matches!(
                    resource_type,
                    "MedicationRequest"
                        | "DiagnosticReport"
                        | "Observation"
                        | "ServiceRequest"
                        | "Encounter"
                        | "DocumentReference"
                        | "QuestionnaireResponse"
                )
            }
            Vendor::Eclinicalworks => self.since_param(resource_type).is_some(),
            Vendor::Nextgen => matches!(
                resource_type,
                "MedicationRequest"
                    | "DiagnosticReport"
                    | "Observation"
                    | "ServiceRequest"
                    | "Encounter"
                    | "DocumentReference"
                    | "QuestionnaireResponse"
                    | "Practitioner"
                    | "PractitionerRole"
            ),
        }
    }

    /// Returns the `_include` values that bring a page's related resources
    /// along, so that fewer of them have to be read one by one.
    pub fn includes(self, resource_type: &str) -> &'static [&'static str] {
        match (self, resource_type) {
            (Vendor::Generic | Vendor::Athenahealth, "DiagnosticReport") => {
                &["DiagnosticReport:result"]
            }
            (Vendor::Generic | Vendor::Athenahealth, "DocumentReference") => {
                &["DocumentReference:encounter"]
            }
            (Vendor::Generic | Vendor::Athenahealth, "MedicationRequest") => {
                &["MedicationRequest:medication"]
            }
            (Vendor::Generic, "Composition") => &["Composition:encounter"],
            _ => &[],
        }
    }

    /// Returns the resource types polled when the config lists none.
    pub fn default_poll_types(self) -> &'static [&'static str] {
        match self {
            Vendor::Generic => &[
                "MedicationRequest",
                "DiagnosticReport",
                "Task",
                "Encounter",
                "DocumentReference",
                "QuestionnaireResponse",
                "Appointment",
                "Claim",
            ],
            _ => &[
                "MedicationRequest",
                "DiagnosticReport",
                "Encounter",
                "DocumentReference",
                "QuestionnaireResponse",
            ],
        }
    }

    /// Returns the resource types `backfill` reads when the config lists none.
    pub fn default_backfill_types(self) -> &'static [&'static str] {
        match self {
            Vendor::Generic => &[
                "Encounter",
                "DocumentReference",
                "Composition",
                "DiagnosticReport",
                "Claim",
            ],
            _ => &["Encounter", "DocumentReference", "DiagnosticReport"],
        }
    }

    /// Names the document the vendor's search support was read from, for messages.
    pub fn capability_source(self) -> &'static str {
        match self {
            Vendor::Athenahealth => "athenahealth's FHIR R4 CapabilityStatement",
            Vendor::Eclinicalworks => "the CapabilityStatement of eCW FHIR Facade 1.6",
            Vendor::Nextgen => "the CapabilityStatement of Nextgen FHIR Server 5.0.1",
            Vendor::Generic => "the FHIR R4 specification",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eclinicalworks_bounds_by_clinical_date() {
        assert_eq!(
            Vendor::Eclinicalworks.since_param("DiagnosticReport"),
            Some("date")
        );
        assert_eq!(
            Vendor::Eclinicalworks.since_param("MedicationRequest"),
            Some("authoredon")
        );
        assert_eq!(Vendor::Eclinicalworks.since_param("Task"), None);
    }

    #[test]
    fn only_generic_sorts() {
        assert!(Vendor::Generic.sorts_by_last_updated());
        assert!(!Vendor::Athenahealth.sorts_by_last_updated());
        assert!(!Vendor::Nextgen.sorts_by_last_updated());
    }

    #[test]
    fn default_types_are_searchable() {
        for vendor in [
            Vendor::Athenahealth,
            Vendor::Eclinicalworks,
            Vendor::Nextgen,
            Vendor::Generic,
        ] {
            for resource_type in vendor
                .default_poll_types()
                .iter()
                .chain(vendor.default_backfill_types())
            {
                assert!(
                    vendor.searchable(resource_type),
                    "{} cannot search {resource_type}",
                    vendor.name()
                );
            }
        }
    }
}
