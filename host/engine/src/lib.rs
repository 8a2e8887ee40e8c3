//! Switchboard domain model, store and engine (being written).
