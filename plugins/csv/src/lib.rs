//! CSV in-basket export connector (being written).
