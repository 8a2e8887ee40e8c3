//! The table that turns `Observation.interpretation` codes into result flags.
//!
//! The default table covers the HL7 v3 `ObservationInterpretation` codes
//! (the same codes as HL7 v2 table 0078):
//!
//! | flag | codes | why |
//! | --- | --- | --- |
//! | normal | `N`, `NEG`, `ND`, `NR` | normal, negative, not detected, non-reactive |
//! | abnormal | `A`, `H`, `L`, `HU`, `LU`, `HX`, `LX`, `>`, `<`, `POS`, `DET`, `RR`, `WR`, `EX`, `UNE` | outside the range or a positive finding. `HU`/`LU` ("significantly" high or low) are siblings of the critical codes in the v3 hierarchy, not critical themselves. `>`/`<` (off scale) mean the value passed the instrument's range, not that it is a panic value |
//! | critical | `AA`, `HH`, `LL` | the v3 critical codes |
//!
//! Every other code is `unknown`, including the susceptibility codes `S`,
//! `I` and `R`: a microbiology panel needs a clinician's reading whatever
//! each antibiotic's code is.
//!
//! A site overrides or extends the table in its config. A key is either a
//! bare code, matched in the v3 and v2 systems and in codings without a
//! system, or `system|code` for any other code system:
//!
//! ```toml
//! [interpretation]
//! "HU" = "critical"
//! "http://snomed.info/sct|281302008" = "abnormal"
//! ```

use std::collections::HashMap;

use switchboard_sdk::ResultFlag;

use crate::fhir::types::{CodeableConcept, Coding};

/// Code systems whose codes the bare keys of the table match.
const INTERPRETATION_SYSTEMS: &[&str] = &[
    "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
    "http://hl7.org/fhir/v3/ObservationInterpretation",
    "http://terminology.hl7.org/CodeSystem/v2-0078",
    "http://hl7.org/fhir/v2/0078",
];

const DEFAULT_NORMAL: &[&str] = &["N", "NEG", "ND", "NR"];
const DEFAULT_ABNORMAL: &[&str] = &[
    "A", "H", "L", "HU", "LU", "HX", "LX", ">", "<", "POS", "DET", "RR", "WR", "EX", "UNE",
];
const DEFAULT_CRITICAL: &[&str] = &["AA", "HH", "LL"];

/// Interpretation codes and the flag each one means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterpretationTable {
    bare: HashMap<String, ResultFlag>,
    qualified: HashMap<String, ResultFlag>,
}

impl Default for InterpretationTable {
    fn default() -> Self {
        let mut bare = HashMap::new();
        let groups = [
            (DEFAULT_NORMAL, ResultFlag::Normal),
            (DEFAULT_ABNORMAL, ResultFlag::Abnormal),
            (DEFAULT_CRITICAL, ResultFlag::Critical),
        ];
        for (codes, flag) in groups {
            for code in codes {
                bare.insert((*code).to_string(), flag);
            }
        }
        InterpretationTable {
            bare,
            qualified: HashMap::new(),
        }
    }
}

impl InterpretationTable {
    /// Builds the default table with `overrides` applied; keys are as in the module docs.
    pub fn with_overrides<'a>(overrides: impl IntoIterator<Item = (&'a str, ResultFlag)>) -> Self {
        let mut table = Self::default();
        for (key, flag) in overrides {
            match key.rsplit_once('|') {
                Some((system, code)) if INTERPRETATION_SYSTEMS.contains(&system) => {
                    table.bare.insert(code.to_string(), flag);
                }
                Some(_) => {
                    table.qualified.insert(key.to_string(), flag);
                }
                None => {
                    table.bare.insert(key.to_string(), flag);
                }
            }
        }
        table
    }

    /// Returns the flag of one coding, or `None` when the table lacks its code.
    pub fn flag_of(&self, coding: &Coding) -> Option<ResultFlag> {
        let code = coding.code.as_deref()?.trim();
        match coding.system.as_deref() {
            None => self.bare.get(code).copied(),
            Some(system) if INTERPRETATION_SYSTEMS.contains(&system) => {
                self.bare.get(code).copied()
            }
            Some(system) => self.qualified.get(&format!("{system}|{code}")).copied(),
        }
    }

    /// Returns the flag of highest severity among the codings of
    /// `interpretations`, or `None` when no coding is in the table.
    pub fn flag_of_all<'a>(
        &self,
        interpretations: impl IntoIterator<Item = &'a CodeableConcept>,
    ) -> Option<ResultFlag> {
        interpretations
            .into_iter()
            .flat_map(|c| c.coding.iter())
            .filter_map(|coding| self.flag_of(coding))
            .reduce(max_severity)
    }
}

/// Severity order for combining flags: critical, abnormal, unknown, normal.
///
/// `unknown` ranks above `normal` so that one unreadable observation keeps a
/// report out of the normal-results pool until someone reads it.
pub fn severity(flag: ResultFlag) -> u8 {
    match flag {
        ResultFlag::None => 0,
        ResultFlag::Normal => 1,
        ResultFlag::Unknown => 2,
        ResultFlag::Abnormal => 3,
        ResultFlag::Critical => 4,
    }
}

/// Returns the flag of higher severity.
pub fn max_severity(a: ResultFlag, b: ResultFlag) -> ResultFlag {
    if severity(b) > severity(a) { b } else { a }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coding(system: Option<&str>, code: &str) -> Coding {
        Coding {
            system: system.map(str::to_string),
            code: Some(code.to_string()),
            display: None,
        }
    }

    const V3: &str = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";

    #[test]
    fn default_table_sorts_v3_codes() {
        let table = InterpretationTable::default();

        assert_eq!(
            table.flag_of(&coding(Some(V3), "N")),
            Some(ResultFlag::Normal)
        );
        assert_eq!(
            table.flag_of(&coding(Some(V3), "H")),
            Some(ResultFlag::Abnormal)
        );
        assert_eq!(
            table.flag_of(&coding(Some(V3), "HU")),
            Some(ResultFlag::Abnormal)
        );
        assert_eq!(
            table.flag_of(&coding(Some(V3), ">")),
            Some(ResultFlag::Abnormal)
        );
        assert_eq!(
            table.flag_of(&coding(Some(V3), "LL")),
            Some(ResultFlag::Critical)
        );
        assert_eq!(table.flag_of(&coding(Some(V3), "S")), None);
        assert_eq!(
            table.flag_of(&coding(None, "AA")),
            Some(ResultFlag::Critical)
        );
    }

    #[test]
    fn other_systems_need_qualified_keys() {
        let table = InterpretationTable::with_overrides([(
            "http://snomed.info/sct|166717003",
            ResultFlag::Abnormal,
        )]);

        assert_eq!(
            table.flag_of(&coding(Some("http://snomed.info/sct"), "166717003")),
            Some(ResultFlag::Abnormal)
        );
        assert_eq!(
            table.flag_of(&coding(Some("http://snomed.info/sct"), "H")),
            None
        );
    }

    #[test]
    fn override_replaces_default() {
        let table = InterpretationTable::with_overrides([
            ("HU", ResultFlag::Critical),
            (&format!("{V3}|N") as &str, ResultFlag::Unknown),
        ]);

        assert_eq!(
            table.flag_of(&coding(Some(V3), "HU")),
            Some(ResultFlag::Critical)
        );
        assert_eq!(
            table.flag_of(&coding(Some(V3), "N")),
            Some(ResultFlag::Unknown)
        );
    }

    #[test]
    fn highest_severity_coding_wins() {
        let table = InterpretationTable::default();
        let concepts = [
            CodeableConcept {
                coding: vec![coding(Some(V3), "N")],
                text: None,
            },
            CodeableConcept {
                coding: vec![coding(Some(V3), "HH"), coding(Some(V3), "H")],
                text: None,
            },
        ];

        assert_eq!(table.flag_of_all(&concepts), Some(ResultFlag::Critical));
    }

    #[test]
    fn unknown_outranks_normal() {
        assert_eq!(
            max_severity(ResultFlag::Normal, ResultFlag::Unknown),
            ResultFlag::Unknown
        );
        assert_eq!(
            max_severity(ResultFlag::Abnormal, ResultFlag::Unknown),
            ResultFlag::Abnormal
        );
    }
}
