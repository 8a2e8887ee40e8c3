//! Serde helpers that keep the stored form compact while the JSON form stays
//! readable.
//!
//! Binary formats (postcard, used on disk) are not human-readable, so there
//! timestamps are plain `i64` milliseconds and an [`Event`] is an externally
//! tagged enum (postcard cannot read the SDK's internally tagged form). JSON
//! keeps the SDK's RFC 3339 strings and tags.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use switchboard_sdk::{Appointment, ChartEvent, ClaimEvent, Event, Timestamp};

/// `#[serde(with = "timestamp")]` for a [`Timestamp`] field.
pub mod timestamp {
    use super::*;

    /// Writes milliseconds in binary formats and RFC 3339 in JSON.
    pub fn serialize<S: Serializer>(value: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            value.serialize(serializer)
        } else {
            serializer.serialize_i64(value.0)
        }
    }

    /// Reads what [`serialize`] writes.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        if deserializer.is_human_readable() {
            Timestamp::deserialize(deserializer)
        } else {
            i64::deserialize(deserializer).map(Timestamp)
        }
    }
}

/// `#[serde(with = "timestamp_opt")]` for an `Option<Timestamp>` field.
pub mod timestamp_opt {
    use super::*;

    /// Writes milliseconds in binary formats and RFC 3339 in JSON.
    pub fn serialize<S: Serializer>(
        value: &Option<Timestamp>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            value.serialize(serializer)
        } else {
            value.map(|t| t.0).serialize(serializer)
        }
    }

    /// Reads what [`serialize`] writes.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Timestamp>, D::Error> {
        if deserializer.is_human_readable() {
            Option::<Timestamp>::deserialize(deserializer)
        } else {
            Option::<i64>::deserialize(deserializer).map(|t| t.map(Timestamp))
        }
    }
}

/// `#[serde(with = "event")]` for an SDK [`Event`] field.
pub mod event {
    use super::*;

    #[derive(Serialize)]
    enum EventRef<'a> {
        Chart(&'a ChartEvent),
        Claim(&'a ClaimEvent),
        Appointment(&'a Appointment),
    }

    #[derive(Deserialize)]
    enum EventOwned {
        Chart(ChartEvent),
        Claim(ClaimEvent),
        Appointment(Appointment),
    }

    /// Writes an externally tagged enum in binary formats, the SDK form in JSON.
    pub fn serialize<S: Serializer>(value: &Event, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            return value.serialize(serializer);
        }
        let tagged = match value {
            Event::Chart(e) => EventRef::Chart(e),
            Event::Claim(e) => EventRef::Claim(e),
            Event::Appointment(e) => EventRef::Appointment(e),
        };
        tagged.serialize(serializer)
    }

    /// Reads what [`serialize`] writes.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Event, D::Error> {
        if deserializer.is_human_readable() {
            return Event::deserialize(deserializer);
        }
        Ok(match EventOwned::deserialize(deserializer)? {
            EventOwned::Chart(e) => Event::Chart(e),
            EventOwned::Claim(e) => Event::Claim(e),
            EventOwned::Appointment(e) => Event::Appointment(e),
        })
    }
}

/// Encodes a value in the store's binary form.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // NOTE: postcard fails only for types serde cannot describe (maps with
    // unknown length are fine in postcard's std mode), none of which are
    // stored, so a failure here is a programming error.
    postcard::to_stdvec(value).expect("stored types always encode")
}

/// Decodes a value from the store's binary form.
pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, String> {
    postcard::from_bytes(bytes).map_err(|e| e.to_string())
}
