//! Item versions: a `u64` that grows with each newer state of the same item.
//!
//! Both layouts keep the message time (MSH-7) as milliseconds since the Unix
//! epoch in 48 bits, clamped to `0..2^48`, which reaches beyond the year
//! 10,000. Times before 1970 count as 0.
//!
//! - **Status first** (results): `rank << 48 | millis`. A higher rank wins
//!   whatever the times, so a preliminary result that arrives after the
//!   final one is ignored.
//! - **Time first** (notes, orders, refills, referrals): `millis << 4 |
//!   rank`. The newer message wins, so a note reopened for editing after it
//!   was signed is open again. The rank breaks ties between messages sent in
//!   the same millisecond.

use switchboard_sdk::Timestamp;

/// Bits that hold the time.
const TIME_BITS: u32 = 48;

/// Bits below the time that hold the rank in the time-first layout.
const RANK_BITS: u32 = 4;

fn millis(at: Timestamp) -> u64 {
    let max = (1u64 << TIME_BITS) - 1;
    u64::try_from(at.0).map_or(0, |ms| ms.min(max))
}

/// `rank << 48 | millis`; `rank` must be below 2^16.
pub(crate) fn status_first(rank: u8, at: Timestamp) -> u64 {
    (u64::from(rank) << TIME_BITS) | millis(at)
}

/// `millis << 4 | rank`; `rank` must be below 16.
pub(crate) fn time_first(at: Timestamp, rank: u8) -> u64 {
    (millis(at) << RANK_BITS) | u64::from(rank & 0x0F)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_first_orders_rank_before_time() {
        let early_final = status_first(2, Timestamp(1_000));
        let late_preliminary = status_first(1, Timestamp(9_000_000));

        assert!(early_final > late_preliminary);
        // 2 << 48 is 562,949,953,421,312.
        assert_eq!(early_final, 562_949_953_422_312);
    }

    #[test]
    fn time_first_orders_time_before_rank() {
        let signed = time_first(Timestamp(1_000), 2);
        let reopened = time_first(Timestamp(2_000), 1);

        assert!(reopened > signed);
        assert_eq!(signed, 16_002);
    }

    #[test]
    fn times_are_clamped() {
        assert_eq!(status_first(1, Timestamp(-5)), 1 << 48);
        assert_eq!(time_first(Timestamp(i64::MAX), 0), ((1u64 << 48) - 1) << 4);
    }
}
