//! The identity domain of Tessera: the components that apply every rule — who may get which
//! token, what a token contains, how secrets, keys, sessions, codes and lockouts work — over
//! storage ports, with no HTTP, SQL, environment variables or files.
//!
//! Layout (leaves first; no module imports one above it):
//! - leaves: `error` (the one table of error codes), `clock`, `util`, `settings`, `model`
//!   (stored entities), `ports` (one store trait per aggregate), `cache` (the epoch-guarded
//!   cache), `caller` (typed callers and the proofs operations demand), `claims`,
//!   `passwords`, `ratelimit`, `messages`, `changes` (the change-feed dispatcher);
//! - components, each with private state, built with the ports and components it needs:
//!   `keys`, `clients`, `revocations`, `live`, `gate`, `preferences`, `users`, `sessions`,
//!   `lockouts`, `issuer`, `refresh`, `logins`, `authn` (password, OTP, magic links over
//!   one challenge flow), `grants`, `introspection`, `journeys`, `outbox`, `tenant`;
//! - `identity`: the facade that wires them for the HTTP layer and the binary.

pub mod auth_codes;
pub mod authn;
pub mod authorize;
pub mod cache;
pub mod caller;
pub mod changes;
pub mod ciba;
pub mod claims;
pub mod client_journeys;
pub mod clients;
pub mod clock;
pub mod deliveries;
pub mod error;
pub mod gate;
pub mod grants;
pub mod identity;
pub mod introspection;
pub mod issuer;
pub mod journeys;
pub mod keys;
pub mod live;
pub mod lockouts;
pub mod logins;
pub mod messages;
pub mod model;
pub mod outbox;
pub mod passwords;
pub mod ports;
pub mod preferences;
pub mod ratelimit;
pub mod refresh;
pub mod revocations;
pub mod sessions;
pub mod settings;
pub mod tenant;
pub mod users;
pub mod util;

pub use caller::{perm, Admin, AuthenticatedClient, Caller, NamedClient, Permit, UserCaller};
pub use clock::{Clock, SystemClock, TestClock};
pub use error::{Code, Error, StoreError};
pub use identity::{Dependencies, Identity};
pub use model::*;
pub use ports::Store;
pub use settings::IdentitySettings;
