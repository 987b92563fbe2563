//! The storage ports: one trait per aggregate, each in its own file. The `store` crate
//! implements every port for SQLite and PostgreSQL (one file per aggregate there too); the
//! identity rules never see SQL. A component is handed only the ports it needs.
//!
//! Every mutating method runs in one transaction and, where other nodes cache what it
//! changes, records a [`Change`](crate::model::Change) row in that same transaction.
//!
//! A new aggregate adds a file here, a trait to [`Store`], and a file in the `store` crate;
//! it touches no other port.

mod changes;
mod ciba;
mod clients;
mod codes;
mod deliveries;
mod interactions;
mod journeys;
mod keys;
mod lockouts;
mod outbox;
mod refresh;
mod revocations;
mod sessions;
mod settings;
mod tenant;
mod users;

pub use changes::ChangeStore;
pub use ciba::CibaStore;
pub use clients::ClientStore;
pub use codes::CodeStore;
pub use deliveries::DeliveryStore;
pub use interactions::InteractionStore;
pub use journeys::JourneyStore;
pub use keys::KeyStore;
pub use lockouts::LockoutStore;
pub use outbox::DevOutboxStore;
pub use refresh::RefreshStore;
pub use revocations::RevocationStore;
pub use sessions::SessionStore;
pub use settings::{app_login_preferences_key, SettingsStore};
pub use tenant::TenantStore;
pub use users::UserStore;

use crate::error::StoreError;

pub type StoreResult<T> = Result<T, StoreError>;

/// Every port at once: what a database implementation provides. The binary opens one and
/// hands each component the ports it needs (trait upcasting turns an `Arc<dyn Store>` into
/// an `Arc<dyn UserStore>`).
pub trait Store:
    TenantStore
    + KeyStore
    + ClientStore
    + RevocationStore
    + JourneyStore
    + UserStore
    + SessionStore
    + CodeStore
    + LockoutStore
    + SettingsStore
    + DevOutboxStore
    + RefreshStore
    + ChangeStore
    + CibaStore
    + DeliveryStore
    + InteractionStore
{
}

impl<T> Store for T where
    T: TenantStore
        + KeyStore
        + ClientStore
        + RevocationStore
        + JourneyStore
        + UserStore
        + SessionStore
        + CodeStore
        + LockoutStore
        + SettingsStore
        + DevOutboxStore
        + RefreshStore
        + ChangeStore
        + CibaStore
        + DeliveryStore
        + InteractionStore
{
}
