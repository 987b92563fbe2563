//! The store port of the tenant itself: liveness of the database, bootstrap and the management application.

use crate::model::{Application, BootstrapOutcome, BootstrapPlan};
use async_trait::async_trait;

use super::StoreResult;

/// The tenant itself: liveness of the database, bootstrap and the management application.
#[async_trait]
pub trait TenantStore: Send + Sync + 'static {
    /// Which backend this is, for logs and `/readyz` ("sqlite" or "postgres").
    fn backend(&self) -> &'static str;

    /// Readiness: the database answers, and this node can write to it.
    async fn ping(&self) -> StoreResult<()>;

    /// Creates the tenant, its signing keys, the management application and its admin client
    /// in one transaction, unless a tenant exists. Two nodes racing on an empty database
    /// produce one tenant: the loser sees `AlreadyBootstrapped`.
    async fn bootstrap(&self, plan: &BootstrapPlan) -> StoreResult<BootstrapOutcome>;

    /// The management application (exists after bootstrap).
    async fn management_application(&self) -> StoreResult<Option<Application>>;
}
