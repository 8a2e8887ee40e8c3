//! Table-driven routing policy: rules in TOML with optional CEL conditions (being written).
