//! HL7 v2 connector: results, documents, orders, pharmacy, referrals, scheduling, visits (being written).
