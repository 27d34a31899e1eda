//! The reader's connections: a few sessions to the same database, each with the settings a
//! reader wants (`session_sql`), so that questions asked at once (a report's independent
//! parts, the API's requests) run side by side instead of queueing on one connection. A
//! connection is opened when a question finds none idle and fewer than
//! [`ReaderSettings::connections`] are open; otherwise the question waits for one. A
//! connection that failed is closed, never handed out again.

use super::{Result, StoreError, BACKEND};
use crate::sinks::postgres::connect;
use postgres::Client;
use std::sync::{Condvar, Mutex, MutexGuard};

/// How the reader talks to PostgreSQL. The defaults suit a report over tens of millions of
/// events on a small server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReaderSettings {
    /// Connections open at most (default 3): a report asks its independent questions on up
    /// to this many at once.
    pub connections: usize,
    /// `work_mem` of each session in MiB (default 64): the report's GROUP BY and DISTINCT
    /// over the hourly rollups (a million rows at 10 M events) stay in memory instead of
    /// sorting on disk. Each connection may use this much per sort or hash.
    pub work_mem_mib: u32,
    /// Whether PostgreSQL may compile plans (default off): the report's queries are short,
    /// and compiling costs them more than it saves.
    pub jit: bool,
}

/// The planner's cost of a random page read in the reader's sessions (PostgreSQL's default is
/// 4, made for spinning disks): the report reads covering indexes whose pages are cached, and at
/// the default the planner prefers a sequential scan and a sort (alerts per rule over 262,500
/// alerts at 10 M events: 430 ms that way, 150–180 ms through `alerts_rule` alone).
const RANDOM_PAGE_COST: &str = "1.1";

impl Default for ReaderSettings {
    fn default() -> ReaderSettings {
        ReaderSettings { connections: 3, work_mem_mib: 64, jit: false }
    }
}

impl ReaderSettings {
    /// The statements that set up a session (numbers only: nothing from outside is quoted).
    fn session_sql(&self) -> String {
        format!(
            "SET work_mem = '{}MB'; SET jit = {}; SET random_page_cost = {RANDOM_PAGE_COST}",
            self.work_mem_mib.max(1),
            if self.jit { "on" } else { "off" }
        )
    }
}

/// Idle connections and how many are open.
struct State {
    idle: Vec<Client>,
    open: usize,
}

/// The reader's connections to one database.
pub(super) struct Pool {
    url: String,
    settings: ReaderSettings,
    state: Mutex<State>,
    returned: Condvar,
}

impl Pool {
    /// A pool holding `first` (already connected and migrated).
    pub fn new(url: &str, settings: ReaderSettings, mut first: Client) -> Result<Pool> {
        first.batch_execute(&settings.session_sql())?;
        Ok(Pool {
            url: url.to_owned(),
            settings,
            state: Mutex::new(State { idle: vec![first], open: 1 }),
            returned: Condvar::new(),
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>> {
        self.state.lock().map_err(|_| poisoned())
    }

    /// Runs `f` on a connection of its own: an idle one, a new one, or the first returned.
    pub fn with<T>(&self, f: impl FnOnce(&mut Client) -> Result<T>) -> Result<T> {
        let mut client = self.take()?;
        let out = f(&mut client);
        self.give_back(client, out.is_ok());
        out
    }

    fn take(&self) -> Result<Client> {
        let mut state = self.lock()?;
        loop {
            if let Some(c) = state.idle.pop() {
                return Ok(c);
            }
            if state.open < self.settings.connections.max(1) {
                state.open += 1;
                drop(state);
                return self.connect().inspect_err(|_| {
                    if let Ok(mut s) = self.state.lock() {
                        s.open = s.open.saturating_sub(1);
                    }
                    self.returned.notify_one();
                });
            }
            state = self.returned.wait(state).map_err(|_| poisoned())?;
        }
    }

    fn connect(&self) -> Result<Client> {
        let mut c = connect(&self.url)?;
        c.batch_execute(&self.settings.session_sql())?;
        Ok(c)
    }

    /// Keeps `client` for the next question unless its question failed (the session may be
    /// gone or inside a failed transaction): that one is closed.
    fn give_back(&self, client: Client, healthy: bool) {
        if let Ok(mut state) = self.state.lock() {
            if healthy && !client.is_closed() {
                state.idle.push(client);
            } else {
                state.open = state.open.saturating_sub(1);
            }
        }
        self.returned.notify_one();
    }
}

fn poisoned() -> StoreError {
    StoreError::Backend { backend: BACKEND, message: "a reader thread failed while holding the connections".into() }
}
