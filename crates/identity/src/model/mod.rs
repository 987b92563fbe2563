//! The stored entities of the identity domain. A leaf: model types depend on nothing else in
//! the crate, so every component and every store port can name them.

mod change;
mod ciba;
mod client;
mod code;
mod delivery;
mod interaction;
mod journey;
mod key;
mod lockout;
mod refresh;
mod session;
mod tenant;
mod user;

pub use change::*;
pub use ciba::*;
pub use client::*;
pub use code::*;
pub use delivery::*;
pub use interaction::*;
pub use journey::*;
pub use key::*;
pub use lockout::*;
pub use refresh::*;
pub use session::*;
pub use tenant::*;
pub use user::*;
