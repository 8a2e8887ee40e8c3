//! Fixed lists the generator draws labels from: lab panels with LOINC codes
//! and reference ranges, medications, forms, referral specialties and
//! notice topics. None of them describes a person.
//!
//! Task topics avoid the words the FHIR connector reads as a category
//! (refill, renew, authorization, referral, form, message, call, phone,
//! result), so the task's focus alone decides its category.

use serde::Serialize;

/// One analyte of a panel.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Analyte {
    /// LOINC code.
    pub loinc: &'static str,
    /// Display name.
    pub name: &'static str,
    /// UCUM unit.
    pub unit: &'static str,
    /// Low end of the reference range.
    pub low: f64,
    /// High end of the reference range.
    pub high: f64,
    /// Decimals the lab reports.
    pub decimals: usize,
}

/// A lab order: the panel code and its analytes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Panel {
    /// LOINC code of the panel (or single test).
    pub loinc: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Members reported.
    pub analytes: &'static [Analyte],
}

const GLUCOSE: Analyte = Analyte {
    loinc: "2345-7",
    name: "Glucose",
    unit: "mg/dL",
    low: 70.0,
    high: 99.0,
    decimals: 0,
};
const CREATININE: Analyte = Analyte {
    loinc: "2160-0",
    name: "Creatinine",
    unit: "mg/dL",
    low: 0.6,
    high: 1.2,
    decimals: 2,
};
const POTASSIUM: Analyte = Analyte {
    loinc: "2823-3",
    name: "Potassium",
    unit: "mmol/L",
    low: 3.5,
    high: 5.1,
    decimals: 1,
};
const SODIUM: Analyte = Analyte {
    loinc: "2951-2",
    name: "Sodium",
    unit: "mmol/L",
    low: 136.0,
    high: 145.0,
    decimals: 0,
};
const HEMOGLOBIN: Analyte = Analyte {
    loinc: "718-7",
    name: "Hemoglobin",
    unit: "g/dL",
    low: 12.0,
    high: 16.0,
    decimals: 1,
};
const LEUKOCYTES: Analyte = Analyte {
    loinc: "6690-2",
    name: "Leukocytes",
    unit: "10*3/uL",
    low: 4.0,
    high: 11.0,
    decimals: 1,
};
const PLATELETS: Analyte = Analyte {
    loinc: "777-3",
    name: "Platelets",
    unit: "10*3/uL",
    low: 150.0,
    high: 400.0,
    decimals: 0,
};
const HBA1C: Analyte = Analyte {
    loinc: "4548-4",
    name: "Hemoglobin A1c",
    unit: "%",
    low: 4.0,
    high: 5.6,
    decimals: 1,
};
const TSH: Analyte = Analyte {
    loinc: "3016-3",
    name: "Thyrotropin",
    unit: "m[IU]/L",
    low: 0.4,
    high: 4.0,
    decimals: 2,
};
const CHOLESTEROL: Analyte = Analyte {
    loinc: "2093-3",
    name: "Cholesterol",
    unit: "mg/dL",
    low: 100.0,
    high: 199.0,
    decimals: 0,
};
const TRIGLYCERIDE: Analyte = Analyte {
    loinc: "2571-8",
    name: "Triglyceride",
    unit: "mg/dL",
    low: 30.0,
    high: 149.0,
    decimals: 0,
};
const HDL: Analyte = Analyte {
    loinc: "2085-9",
    name: "HDL cholesterol",
    unit: "mg/dL",
    low: 40.0,
    high: 90.0,
    decimals: 0,
};
const LDL: Analyte = Analyte {
    loinc: "18262-6",
    name: "LDL cholesterol (direct)",
    unit: "mg/dL",
    low: 30.0,
    high: 99.0,
    decimals: 0,
};

/// Panels a primary-care practice orders most, with the members reported.
pub const PANELS: &[Panel] = &[
    Panel {
        loinc: "24323-8",
        name: "Comprehensive metabolic panel",
        analytes: &[GLUCOSE, CREATININE, POTASSIUM, SODIUM],
    },
    Panel {
        loinc: "58410-2",
        name: "CBC panel",
        analytes: &[HEMOGLOBIN, LEUKOCYTES, PLATELETS],
    },
    Panel {
        loinc: "57698-3",
        name: "Lipid panel",
        analytes: &[CHOLESTEROL, TRIGLYCERIDE, HDL, LDL],
    },
    Panel {
        loinc: "4548-4",
        name: "Hemoglobin A1c",
        analytes: &[HBA1C],
    },
    Panel {
        loinc: "3016-3",
        name: "TSH",
        analytes: &[TSH],
    },
];

/// Medications whose renewal is requested.
pub const MEDICATIONS: &[&str] = &[
    "Lisinopril 10 mg oral tablet",
    "Atorvastatin 20 mg oral tablet",
    "Metformin 500 mg oral tablet",
    "Amlodipine 5 mg oral tablet",
    "Levothyroxine 50 mcg oral tablet",
    "Omeprazole 20 mg delayed-release capsule",
    "Sertraline 50 mg oral tablet",
    "Losartan 50 mg oral tablet",
    "Hydrochlorothiazide 25 mg oral tablet",
    "Albuterol 90 mcg/actuation inhaler",
];

/// Questionnaires of forms: (id, title).
pub const FORMS: &[(&str, &str)] = &[
    ("fmla-certification", "FMLA certification"),
    ("sports-physical", "School sports physical"),
    ("disability-parking", "Disability parking application"),
    ("home-health-certification", "Home health certification"),
    ("work-note", "Return-to-work note"),
];

/// Referral specialties.
pub const SPECIALTIES: &[&str] = &[
    "cardiology",
    "dermatology",
    "orthopedics",
    "gastroenterology",
    "physical therapy",
    "behavioral health",
];

/// Services needing prior authorization.
pub const PRIOR_AUTH_SERVICES: &[&str] = &[
    "MRI lumbar spine",
    "GLP-1 agonist",
    "Continuous glucose monitor",
    "Sleep study",
];

/// Topics of patient messages.
pub const MESSAGE_TOPICS: &[&str] = &[
    "Medication question",
    "Symptom update",
    "Appointment request",
    "Billing question",
    "Follow-up question",
];

/// Topics of FYI notices and CC'd documents.
pub const NOTICE_TOPICS: &[&str] = &[
    "Hospital discharge summary received",
    "Outside records received",
    "Care gap reminder",
    "Specialist consult note received",
    "Home health plan of care",
];

/// Visit types: (HL7 table 0276 code, text).
pub const VISIT_TYPES: &[(&str, &str)] = &[
    ("ROUTINE", "Routine visit"),
    ("FOLLOWUP", "Follow-up visit"),
    ("CHECKUP", "Annual checkup"),
];
