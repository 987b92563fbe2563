//! Scratch PostgreSQL databases for test suites (feature `test-support`, never in the
//! product): one database per test, dropped when the handle is.
//!
//! A migrated database is cloned from a template (`CREATE DATABASE … TEMPLATE`), built once per
//! schema version and kept on the server: its name carries a hash of the migrations, so a new
//! migration builds a new one. Cloning costs one file copy instead of running every migration
//! for every test. The template is built under a PostgreSQL advisory lock and published by a
//! rename, so test processes running at once never see a half-built one.

use std::sync::Arc;

use sqlx::{AnyConnection, Connection, Executor};
use tokio::sync::OnceCell;

use crate::dialect::Dialect;
use crate::DatabaseTarget;

/// A database on the test server, dropped (with `FORCE`) when this is dropped.
#[derive(Debug)]
pub struct ScratchPostgres {
    /// The URL of the scratch database.
    pub url: String,
    admin_url: String,
    name: String,
}

/// The template of this schema version, built at most once per process.
static TEMPLATE: OnceCell<Result<String, String>> = OnceCell::const_new();

async fn admin(url: &str) -> Result<AnyConnection, String> {
    sqlx::any::install_default_drivers();
    AnyConnection::connect(url)
        .await
        .map_err(|e| format!("connecting to {url}: {e}"))
}

fn with_database(admin_url: &str, name: &str) -> Result<String, String> {
    let mut url = url::Url::parse(admin_url).map_err(|e| e.to_string())?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

/// The migrated template's name, building it if this schema version has none yet.
async fn template(admin_url: &str) -> Result<String, String> {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for m in Dialect::Postgres.migrator().iter() {
        for b in m.checksum.iter().copied().chain(m.version.to_le_bytes()) {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    let name = format!("tessera_template_{hash:016x}");
    let mut conn = admin(admin_url).await?;
    let lock = i64::from_le_bytes(hash.to_le_bytes());
    conn.execute(format!("SELECT pg_advisory_lock({lock})").as_str())
        .await
        .map_err(|e| e.to_string())?;
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_optional(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    if exists.is_none() {
        let building = format!("{name}_building");
        for sql in [
            format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"),
            format!("CREATE DATABASE {building}"),
        ] {
            conn.execute(sql.as_str())
                .await
                .map_err(|e| e.to_string())?;
        }
        let target = DatabaseTarget::Postgres(with_database(admin_url, &building)?);
        let clock = Arc::new(tessera_identity::TestClock::new(0));
        let db = crate::open(&target, clock)
            .await
            .map_err(|e| e.to_string())?;
        db.migrate().await.map_err(|e| e.to_string())?;
        db.close().await;
        conn.execute(format!("ALTER DATABASE {building} RENAME TO {name}").as_str())
            .await
            .map_err(|e| e.to_string())?;
    }
    conn.execute(format!("SELECT pg_advisory_unlock({lock})").as_str())
        .await
        .map_err(|e| e.to_string())?;
    let _ = conn.close().await;
    Ok(name)
}

impl ScratchPostgres {
    /// A new database on the server of `admin_url`: migrated to this binary's schema
    /// (cloned from the template) when `migrated`, else empty.
    pub async fn create(admin_url: &str, migrated: bool) -> Result<Self, String> {
        let name = format!("tessera_t_{}", uuid_like());
        let create = if migrated {
            let template = TEMPLATE.get_or_init(|| template(admin_url)).await.clone()?;
            format!("CREATE DATABASE {name} TEMPLATE {template}")
        } else {
            format!("CREATE DATABASE {name}")
        };
        let mut conn = admin(admin_url).await?;
        conn.execute(create.as_str())
            .await
            .map_err(|e| e.to_string())?;
        let _ = conn.close().await;
        Ok(Self {
            url: with_database(admin_url, &name)?,
            admin_url: admin_url.to_string(),
            name,
        })
    }
}

/// 128 random bits in hex, for database names.
fn uuid_like() -> String {
    let mut bytes = [0u8; 16];
    if tessera_jose::random_bytes(&mut bytes).is_err() {
        bytes = std::process::id()
            .to_le_bytes()
            .repeat(4)
            .try_into()
            .unwrap_or([7; 16]);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Drop for ScratchPostgres {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // Dropped from async tests too: a thread of its own with its own runtime.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(mut c) = admin(&admin_url).await {
                    let _ = c.execute(sql.as_str()).await;
                    let _ = c.close().await;
                }
            });
        })
        .join();
    }
}
