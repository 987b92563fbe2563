//! Following other nodes' writes: the one place the change feed is read and dispatched.
//!
//! Every mutation that other nodes cache records a change row in its own transaction. Each
//! node polls the feed (the binary calls [`ChangeFeed::sync`] about twice a second) and hands
//! each new change to the components that follow its kind ([`FollowChanges`]); a component
//! drops or reloads what the change made stale. A component registers once, when the
//! identity core is wired (`identity.rs`), so a new cached aggregate adds one
//! implementation and nothing here.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::clock::Clock;
use crate::error::Error;
use crate::model::{Change, ChangeKind};
use crate::ports::ChangeStore;

/// How far back each poll looks. A writer's transaction that commits later than this after
/// taking its timestamp could be missed; the window is generous for that reason.
const CHANGE_WINDOW_MS: i64 = 10_000;

/// A component that caches something other nodes can change.
#[async_trait::async_trait]
pub trait FollowChanges: Send + Sync {
    /// Whether changes of `kind` concern this component.
    fn follows(&self, kind: ChangeKind) -> bool;

    /// Drops or reloads what `changes` (all of kinds it follows, oldest first) made stale.
    async fn apply(&self, changes: &[&Change]) -> Result<(), Error>;
}

/// The change-feed follower of this node.
pub struct ChangeFeed {
    store: Arc<dyn ChangeStore>,
    clock: Arc<dyn Clock>,
    followers: Vec<Arc<dyn FollowChanges>>,
    /// Changes already applied, by sequence number, with their time (forgotten once older
    /// than the window).
    seen: Mutex<HashMap<i64, i64>>,
    last_poll_ms: Mutex<i64>,
}

impl ChangeFeed {
    /// A follower that starts from now (what is already in the database was read at start).
    pub fn new(
        store: Arc<dyn ChangeStore>,
        clock: Arc<dyn Clock>,
        followers: Vec<Arc<dyn FollowChanges>>,
    ) -> Self {
        let now = clock.now_ms();
        Self {
            store,
            clock,
            followers,
            seen: Mutex::new(HashMap::new()),
            last_poll_ms: Mutex::new(now),
        }
    }

    /// Reads the changes not seen before and dispatches them; returns how many there were.
    /// Every follower gets its changes even if another one fails; the first error is
    /// returned.
    pub async fn sync(&self) -> Result<usize, Error> {
        let now_ms = self.clock.now_ms();
        let since = *self.last_poll_ms.lock() - CHANGE_WINDOW_MS;
        let changes = self.store.changes_since(since).await?;
        *self.last_poll_ms.lock() = now_ms;
        let fresh: Vec<Change> = {
            let mut seen = self.seen.lock();
            seen.retain(|_, at| *at >= since);
            changes
                .into_iter()
                .filter(|c| seen.insert(c.seq, c.at_ms).is_none())
                .collect()
        };
        let mut first_error = None;
        for follower in &self.followers {
            let mine: Vec<&Change> = fresh.iter().filter(|c| follower.follows(c.kind)).collect();
            if mine.is_empty() {
                continue;
            }
            if let Err(e) = follower.apply(&mine).await {
                first_error.get_or_insert(e);
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(fresh.len()),
        }
    }

    /// Housekeeping: change rows older than an hour are of no use to anyone.
    pub async fn purge(&self) -> Result<(), Error> {
        self.store
            .purge_changes(self.clock.now_ms() - 3_600_000)
            .await?;
        Ok(())
    }
}
