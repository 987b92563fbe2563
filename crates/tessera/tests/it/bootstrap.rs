//! First start: generated admin credentials written once with mode 0600; operator-given
//! credentials re-applied on every start.

use reqwest::StatusCode;
use serde_json::Value;
use tessera_identity::TestClock;
use zeroize::Zeroizing;

use crate::harness::{backends, now_ms, TestServer};

#[tokio::test]
async fn generated_admin_credentials_are_written_once_and_work() {
    for b in backends().await {
        let config = b.config_without_admin();
        let path = config.data_dir.join("admin-credentials.json");
        let srv = TestServer::start(config.clone(), TestClock::new(now_ms())).await;
        let generated = srv
            .server
            .as_ref()
            .unwrap()
            .generated_admin
            .clone()
            .expect("first start generates credentials");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let file: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(file["client_id"], generated.client_id.as_str());
        assert_eq!(file["client_secret"], generated.client_secret.as_str());
        assert!(generated.client_secret.len() >= 43);
        let token = srv
            .token(
                file["client_id"].as_str().unwrap(),
                file["client_secret"].as_str().unwrap(),
            )
            .await;
        let (s, _) = srv
            .send_json(reqwest::Method::GET, "/cis/v1/applications", &token, None)
            .await;
        assert_eq!(s, StatusCode::OK);
        srv.stop().await;
        let before = std::fs::read_to_string(&path).unwrap();
        // A restart on the same database bootstraps nothing and rewrites nothing.
        let srv = TestServer::start(config, TestClock::new(now_ms())).await;
        assert!(srv.server.as_ref().unwrap().generated_admin.is_none());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
        srv.token(
            file["client_id"].as_str().unwrap(),
            file["client_secret"].as_str().unwrap(),
        )
        .await;
        srv.stop().await;
    }
}

#[tokio::test]
async fn operator_admin_secret_is_reapplied_on_every_start() {
    for b in backends().await {
        let srv = b.start().await;
        srv.admin_token().await;
        srv.stop().await;
        let mut config = b.config();
        let new_secret = "a-completely-different-admin-secret-0123456789";
        config.admin = Some((
            crate::harness::ADMIN_ID.into(),
            Zeroizing::new(new_secret.into()),
        ));
        let srv = TestServer::start(config, TestClock::new(now_ms())).await;
        let r = srv
            .form(
                "/oidc/token",
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", crate::harness::ADMIN_ID),
                    ("client_secret", crate::harness::ADMIN_SECRET),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        srv.token(crate::harness::ADMIN_ID, new_secret).await;
        assert!(!config_dir_has_credentials_file(&b));
        srv.stop().await;
    }
}

fn config_dir_has_credentials_file(b: &crate::harness::Backend) -> bool {
    b.config().data_dir.join("admin-credentials.json").exists()
}

/// The database files were created 0644 in an existing 0755 data dir, though they hold
/// password hashes and personal data.
#[cfg(unix)]
#[tokio::test]
async fn database_files_are_private_even_in_an_open_data_dir() {
    use std::os::unix::fs::PermissionsExt;
    let b = backends().await.remove(0);
    assert_eq!(b.name, "sqlite");
    let config = b.config();
    std::fs::create_dir_all(&config.data_dir).unwrap();
    std::fs::set_permissions(&config.data_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(b.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let srv = TestServer::start(config.clone(), TestClock::new(now_ms())).await;
    // A write, so the WAL and its index exist.
    let admin = srv.admin_token().await;
    let (s, _) = srv
        .post(
            "/cis/v1/applications",
            &admin,
            serde_json::json!({"name": "x"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let tessera::config::Database::Sqlite(db) = config.database.clone() else {
        unreachable!("the first backend is SQLite")
    };
    for suffix in ["", "-wal", "-shm"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        let mode = std::fs::metadata(&name).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{name:?}");
    }
    srv.stop().await;
    // A file left world-readable by an older version is made private at the next start.
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let srv = TestServer::start(config, TestClock::new(now_ms())).await;
    assert_eq!(
        std::fs::metadata(&db).unwrap().permissions().mode() & 0o777,
        0o600
    );
    srv.stop().await;
}
