//! Pre-visit prep policy: prep items for the next clinic day's visits (being written).
