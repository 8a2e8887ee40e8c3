//! FHIR references: splitting them into type and id, and the stable form the
//! connector reports to the host.
//!
//! Items carry references such as `Patient/123` or `Practitioner/lee`. The
//! host matches provider references against each roster person's `ehr_ids`,
//! so the form matters:
//!
//! - relative and absolute literal references become `Type/id`, without the
//!   server's base and without `/_history/…`;
//! - a provider known only by NPI (a logical reference with the
//!   `http://hl7.org/fhir/sid/us-npi` system, or a conditional reference
//!   `Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|…`, as Synthea
//!   writes) becomes the bare 10-digit NPI, the form roster files use;
//! - other conditional references are kept as written, which is stable;
//! - `#id` references point inside the resource and have no EHR identity,
//!   so they become `None`.

/// The NPI identifier system.
pub const NPI_SYSTEM: &str = "http://hl7.org/fhir/sid/us-npi";

/// Splits a literal reference (`Type/id`, or an absolute URL ending in
/// `Type/id`, either with `/_history/v`) into type and id. Returns `None` for
/// contained, `urn:` and conditional references.
pub fn type_and_id(reference: &str) -> Option<(&str, &str)> {
    let reference = reference.trim();
    if reference.starts_with('#') || reference.starts_with("urn:") || reference.contains('?') {
        return None;
    }
    let path = match reference.find("://") {
        Some(scheme_end) => &reference[scheme_end + 3..],
        None => reference,
    };
    let mut segments = path.rsplit('/').filter(|s| !s.is_empty());
    let last = segments.next()?;
    let before = segments.next()?;
    let (resource_type, id) = if before == "_history" {
        let id = segments.next()?;
        (segments.next()?, id)
    } else {
        (before, last)
    };
    (is_resource_type(resource_type) && is_id(id)).then_some((resource_type, id))
}

/// Returns `Type/id` for a literal reference, as [`type_and_id`] reads it.
pub fn relative(reference: &str) -> Option<String> {
    type_and_id(reference).map(|(t, id)| format!("{t}/{id}"))
}

/// Returns the resource type a reference points to, when its text names one.
pub fn target_type(reference: &str) -> Option<&str> {
    if let Some((resource_type, _)) = type_and_id(reference) {
        return Some(resource_type);
    }
    let (head, _) = reference.split_once('?')?;
    is_resource_type(head).then_some(head)
}

/// Returns the NPI in a conditional reference such as
/// `Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|1234567893`.
pub fn conditional_npi(reference: &str) -> Option<&str> {
    let (_, query) = reference.split_once('?')?;
    query.split('&').find_map(|pair| {
        let value = pair.strip_prefix("identifier=")?;
        let value = value.replace("%7C", "|").replace("%7c", "|");
        let (system, npi) = value.split_once('|')?;
        if system == NPI_SYSTEM && is_npi(npi) {
            // Return a slice of the original text, so the caller borrows no temporary.
            let start = reference.find(npi)?;
            Some(&reference[start..start + npi.len()])
        } else {
            None
        }
    })
}

/// True for ten ASCII digits.
pub fn is_npi(text: &str) -> bool {
    text.len() == 10 && text.bytes().all(|b| b.is_ascii_digit())
}

/// True for a FHIR resource type name: an upper-case ASCII letter followed by
/// letters.
pub fn is_resource_type(text: &str) -> bool {
    let mut chars = text.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_alphabetic())
}

/// True for a FHIR `id`: 1 to 64 letters, digits, `-` and `.`.
pub fn is_id(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_relative_and_absolute() {
        assert_eq!(type_and_id("Observation/abc"), Some(("Observation", "abc")));
        assert_eq!(
            type_and_id("https://ehr.example.test/fhir/r4/Observation/abc"),
            Some(("Observation", "abc"))
        );
        assert_eq!(
            type_and_id("Observation/abc/_history/3"),
            Some(("Observation", "abc"))
        );
        assert_eq!(
            type_and_id("Patient/a-432.E-528595"),
            Some(("Patient", "a-432.E-528595"))
        );
    }

    #[test]
    fn rejects_non_literal_forms() {
        assert_eq!(type_and_id("#med1"), None);
        assert_eq!(
            type_and_id("urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"),
            None
        );
        assert_eq!(type_and_id("Practitioner?identifier=x|1"), None);
        assert_eq!(type_and_id("abc"), None);
        assert_eq!(type_and_id("observation/abc"), None);
        assert_eq!(type_and_id("Observation/a b"), None);
    }

    #[test]
    fn reads_npi_from_conditional_reference() {
        let reference = "Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9999982090";

        assert_eq!(conditional_npi(reference), Some("9999982090"));
        assert_eq!(
            conditional_npi("Practitioner?identifier=http://other|9999982090"),
            None
        );
        assert_eq!(target_type(reference), Some("Practitioner"));
    }
}
