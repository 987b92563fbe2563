//! The store port of one-time codes: OTP passcodes and magic links, stored as keyed hashes.

use crate::model::{CodeRedemption, OneTimeCode, Redemption};
use async_trait::async_trait;

use super::StoreResult;

/// One-time codes: OTP passcodes and magic links, stored as keyed hashes.
#[async_trait]
pub trait CodeStore: Send + Sync + 'static {
    /// Stores a new one-time code (OTP or magic link) and, in the same transaction, marks the
    /// user's older live codes of the same client and kind consumed. `NotFound` if the user
    /// does not exist. Records no change (codes are not cached).
    async fn create_one_time_code(&self, code: &OneTimeCode) -> StoreResult<()>;

    /// Consumes the newest live code matching `redemption` with one conditional update
    /// (`... AND consumed_at IS NULL`), so of concurrent redeems of one code, on any nodes,
    /// exactly one gets `Consumed`. Without a live match: `Expired` if an unused matching code
    /// has expired, else `Invalid`; nothing changes.
    async fn redeem_one_time_code(&self, redemption: &CodeRedemption) -> StoreResult<Redemption>;

    /// Deletes codes that expired before `expired_before_s`.
    async fn purge_one_time_codes(&self, expired_before_s: i64) -> StoreResult<u64>;
}
