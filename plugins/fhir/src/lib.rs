//! FHIR R4 connector for athenahealth, eClinicalWorks and NextGen (being written).
