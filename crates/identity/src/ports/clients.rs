//! The store port of applications and their clients.

use crate::model::{Application, Client};
use async_trait::async_trait;

use super::StoreResult;

/// Applications and their clients.
#[async_trait]
pub trait ClientStore: Send + Sync + 'static {
    async fn create_application(&self, app: &Application) -> StoreResult<()>;

    /// Creates an application and its first client in one transaction (the platform creates
    /// an application's default client with it): both or neither.
    async fn create_application_with_client(
        &self,
        app: &Application,
        client: &Client,
    ) -> StoreResult<()>;

    async fn get_application(&self, app_id: &str) -> StoreResult<Option<Application>>;

    async fn list_applications(&self) -> StoreResult<Vec<Application>>;

    /// Replaces name, description and updated_at. `NotFound` if missing.
    async fn update_application(&self, app: &Application) -> StoreResult<()>;

    /// Deletes the application and its clients. `NotFound` if missing.
    async fn delete_application(&self, app_id: &str) -> StoreResult<()>;

    /// `Conflict` if the client_id exists; `NotFound` if the application does not.
    async fn create_client(&self, client: &Client) -> StoreResult<()>;

    async fn get_client(&self, client_id: &str) -> StoreResult<Option<Client>>;

    async fn list_clients(&self, app_id: &str) -> StoreResult<Vec<Client>>;

    /// Replaces settings, secret hashes and updated_at. `NotFound` if missing.
    async fn update_client(&self, client: &Client) -> StoreResult<()>;

    /// `NotFound` if missing.
    async fn delete_client(&self, client_id: &str) -> StoreResult<()>;
}
