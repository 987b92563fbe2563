//! [`JourneyStore`] over SQL: journey definitions (`journeys`, every version kept, numbered by
//! a `journey_heads` row per id), `connections`, and run traces (`journey_traces`).
//! Definitions and connections record `Journey` and `Connection` changes, so other nodes
//! recompile; traces are cached nowhere and record none.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use tessera_identity::ports::{JourneyStore, StoreResult};
use tessera_identity::{ChangeKind, ConnectionRecord, JourneyRecord, TraceRecord};

use crate::error::{backend, write_error};
use crate::query::{execute, fetch_all, fetch_optional};
use crate::rows::column;
use crate::sql_store::SqlStore;

/// The columns [`decode_journey`] reads (unqualified: queries join `journey_heads` `USING
/// (journey_id)`, whose other columns have other names).
const JOURNEY_COLUMNS: &str = "journey_id, version, format, source, created_at";

/// The columns [`decode_connection`] reads.
const CONNECTION_COLUMNS: &str = "name, definition, updated_at";

/// The columns [`decode_trace`] reads.
const TRACE_COLUMNS: &str = "trace_id, journey_id, created_at_ms, trace";

#[async_trait]
impl JourneyStore for SqlStore {
    async fn put_journey(
        &self,
        journey_id: &str,
        format: &str,
        source: &str,
        now_s: i64,
    ) -> StoreResult<JourneyRecord> {
        let mut record = JourneyRecord {
            journey_id: journey_id.to_string(),
            version: 0,
            format: format.to_string(),
            source: source.to_string(),
            created_at: now_s,
        };
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    // The head row numbers the versions. Concurrent writers of one id queue on
                    // it (PostgreSQL: the row lock, or the pending insert of a new id; SQLite:
                    // the write lock), so each gets the next number and never a duplicate key.
                    // A deleted journey comes back to life with the next number.
                    record.version = sqlx::query_scalar::<_, i64>(
                        "INSERT INTO journey_heads (journey_id, latest_version, deleted) \
                         VALUES ($1, 1, 0) \
                         ON CONFLICT (journey_id) DO UPDATE \
                         SET latest_version = journey_heads.latest_version + 1, deleted = 0 \
                         RETURNING latest_version",
                    )
                    .bind(&record.journey_id)
                    .fetch_one(tx.conn())
                    .await
                    .map_err(backend)?;
                    let statement = sqlx::query(
                        "INSERT INTO journeys (journey_id, version, format, source, created_at) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(&record.journey_id)
                    .bind(record.version)
                    .bind(&record.format)
                    .bind(&record.source)
                    .bind(record.created_at);
                    execute(tx.conn(), statement, |e| {
                        write_error(e, || {
                            format!(
                                "journey {} version {} already exists",
                                record.journey_id, record.version
                            )
                        })
                    })
                    .await?;
                    tx.record_change(ChangeKind::Journey, &record.journey_id)
                        .await?;
                    Ok(record)
                })
            })
            .await
    }

    async fn latest_journey(&self, journey_id: &str) -> StoreResult<Option<JourneyRecord>> {
        let sql = format!(
            "SELECT {JOURNEY_COLUMNS} FROM journeys JOIN journey_heads USING (journey_id) \
             WHERE journey_id = $1 AND version = latest_version AND deleted = 0"
        );
        let query = sqlx::query(&sql).bind(journey_id);
        fetch_optional(&self.reader, query, decode_journey).await
    }

    async fn journey_version(
        &self,
        journey_id: &str,
        version: i64,
    ) -> StoreResult<Option<JourneyRecord>> {
        let sql = format!(
            "SELECT {JOURNEY_COLUMNS} FROM journeys WHERE journey_id = $1 AND version = $2"
        );
        let query = sqlx::query(&sql).bind(journey_id).bind(version);
        fetch_optional(&self.reader, query, decode_journey).await
    }

    async fn list_journeys(&self) -> StoreResult<Vec<JourneyRecord>> {
        let sql = format!(
            "SELECT {JOURNEY_COLUMNS} FROM journeys JOIN journey_heads USING (journey_id) \
             WHERE version = latest_version AND deleted = 0 ORDER BY journey_id"
        );
        fetch_all(&self.reader, sqlx::query(&sql), decode_journey).await
    }

    async fn delete_journey(&self, journey_id: &str) -> StoreResult<()> {
        // The versions stay (runs in flight finish on theirs), and so does the head row: its
        // number continues if the journey is stored again.
        let statement = sqlx::query(
            "UPDATE journey_heads SET deleted = 1 WHERE journey_id = $1 AND deleted = 0",
        )
        .bind(journey_id.to_string());
        self.write_one(statement, backend, ChangeKind::Journey, journey_id)
            .await
    }

    async fn put_connection(&self, connection: &ConnectionRecord) -> StoreResult<()> {
        let c = connection.clone();
        let statement = sqlx::query(
            "INSERT INTO connections (name, definition, updated_at) \
             VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE \
             SET definition = excluded.definition, updated_at = excluded.updated_at",
        )
        .bind(c.name)
        .bind(c.definition)
        .bind(c.updated_at);
        self.write_recording(statement, backend, ChangeKind::Connection, &connection.name)
            .await
    }

    async fn get_connection(&self, name: &str) -> StoreResult<Option<ConnectionRecord>> {
        let sql = format!("SELECT {CONNECTION_COLUMNS} FROM connections WHERE name = $1");
        let query = sqlx::query(&sql).bind(name);
        fetch_optional(&self.reader, query, decode_connection).await
    }

    async fn list_connections(&self) -> StoreResult<Vec<ConnectionRecord>> {
        let sql = format!("SELECT {CONNECTION_COLUMNS} FROM connections ORDER BY name");
        fetch_all(&self.reader, sqlx::query(&sql), decode_connection).await
    }

    async fn delete_connection(&self, name: &str) -> StoreResult<()> {
        self.delete_one(
            "DELETE FROM connections WHERE name = $1",
            name,
            ChangeKind::Connection,
        )
        .await
    }

    async fn insert_traces(&self, traces: &[TraceRecord]) -> StoreResult<()> {
        if traces.is_empty() {
            return Ok(());
        }
        let traces = traces.to_vec();
        // Traces are not cached anywhere, so they record no change rows.
        self.writer
            .run(move |tx| {
                Box::pin(async move {
                    for trace in &traces {
                        let statement = sqlx::query(
                            "INSERT INTO journey_traces \
                             (trace_id, journey_id, created_at_ms, trace) \
                             VALUES ($1, $2, $3, $4)",
                        )
                        .bind(&trace.trace_id)
                        .bind(&trace.journey_id)
                        .bind(trace.created_at_ms)
                        .bind(&trace.trace);
                        execute(tx.conn(), statement, |e| {
                            write_error(e, || format!("trace {} already exists", trace.trace_id))
                        })
                        .await?;
                    }
                    Ok(())
                })
            })
            .await
    }

    async fn get_trace(
        &self,
        journey_id: &str,
        trace_id: &str,
    ) -> StoreResult<Option<TraceRecord>> {
        let sql = format!(
            "SELECT {TRACE_COLUMNS} FROM journey_traces WHERE trace_id = $1 AND journey_id = $2"
        );
        let query = sqlx::query(&sql).bind(trace_id).bind(journey_id);
        fetch_optional(&self.reader, query, decode_trace).await
    }

    async fn purge_traces(&self, before_ms: i64) -> StoreResult<u64> {
        self.delete_older(
            "DELETE FROM journey_traces WHERE created_at_ms < $1",
            before_ms,
        )
        .await
    }
}

fn decode_journey(row: &AnyRow) -> StoreResult<JourneyRecord> {
    let journey_id: String = column(row, "journey_id", "journey")?;
    let what = format!("journey {journey_id}");
    Ok(JourneyRecord {
        version: column(row, "version", &what)?,
        format: column(row, "format", &what)?,
        source: column(row, "source", &what)?,
        created_at: column(row, "created_at", &what)?,
        journey_id,
    })
}

fn decode_connection(row: &AnyRow) -> StoreResult<ConnectionRecord> {
    let name: String = column(row, "name", "connection")?;
    let what = format!("connection {name}");
    Ok(ConnectionRecord {
        definition: column(row, "definition", &what)?,
        updated_at: column(row, "updated_at", &what)?,
        name,
    })
}

fn decode_trace(row: &AnyRow) -> StoreResult<TraceRecord> {
    let trace_id: String = column(row, "trace_id", "trace")?;
    let what = format!("trace {trace_id}");
    Ok(TraceRecord {
        journey_id: column(row, "journey_id", &what)?,
        created_at_ms: column(row, "created_at_ms", &what)?,
        trace: column(row, "trace", &what)?,
        trace_id,
    })
}
