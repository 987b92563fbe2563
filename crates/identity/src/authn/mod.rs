//! Authentication methods: what proves a user before [`Logins`](crate::logins::Logins)
//! completes the login. Passwords (`password.rs`) and their resets (`reset.rs`); one-time
//! passcodes by email and SMS (`otp.rs`) and email magic links (`magic_link.rs`), which share
//! one send/redeem flow (`challenge.rs`) and one code format (`codes.rs`).

pub mod challenge;
pub mod codes;
pub mod magic_link;
pub mod otp;
pub mod password;
pub mod reset;

pub use challenge::Challenges;
pub use magic_link::{LinkChannel, LinkLogin, LinkSend, LinkSent, MagicLinks};
pub use otp::{Otp, OtpChannel, OtpLogin, OtpSend, OtpSent};
pub use password::{PasswordLogin, PasswordLogins};
pub use reset::{
    PasswordResets, PasswordValidation, ResetChannel, ResetCodeCheck, ResetDone, ResetLinkSend,
};
