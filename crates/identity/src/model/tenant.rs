//! What the first start of a database creates.

use super::{Application, Client, StoredSigningKey};

/// What the first start of a database creates, in one transaction.
#[derive(Debug, Clone)]
pub struct BootstrapPlan {
    pub signing_keys: Vec<StoredSigningKey>,
    pub management_app: Application,
    pub admin_client: Client,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootstrapOutcome {
    /// This call created the tenant.
    Created,
    /// The tenant already existed; nothing was written.
    AlreadyBootstrapped,
}
