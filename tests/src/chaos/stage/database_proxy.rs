//! The proxy in front of the PostgreSQL server on the stage: its fault windows as the
//! plan opens them, and what it did.

use std::time::Duration;

use serde::Serialize;

use super::Stage;
use crate::chaos::pg_proxy::{PgFault, PgProxyCounts};

/// What the database proxy was told to do, and what it did (all zero without it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DatabaseProxyFigures {
    /// Windows in which `COMMIT`s could be made in doubt.
    pub in_doubt_windows: u64,
    /// Windows in which the server's replies were held.
    pub delay_windows: u64,
    /// Windows in which connections could be cut in the middle of a transaction.
    pub cut_windows: u64,
    #[serde(flatten)]
    pub counts: PgProxyCounts,
}

impl Stage {
    /// Opens a window of the database proxy for `length`, or ends one with `Clean`
    /// (nothing without a proxy).
    pub(super) fn set_database_fault(&mut self, fault: PgFault, length: Duration) {
        let Some(proxy) = &self.database_proxy else {
            return;
        };
        match fault {
            PgFault::Clean => proxy.set_fault(fault),
            _ => proxy.open_window(fault, length),
        }
        let windows = &mut self.database_proxy_windows;
        match fault {
            PgFault::Clean => {}
            PgFault::InDoubtCommits => windows.in_doubt_windows += 1,
            PgFault::DelayedReplies(_) => windows.delay_windows += 1,
            PgFault::CutsMidTransaction => windows.cut_windows += 1,
        }
    }

    /// What the database proxy was told to do and did so far.
    pub fn database_proxy_figures(&self) -> DatabaseProxyFigures {
        DatabaseProxyFigures {
            counts: self
                .database_proxy
                .as_ref()
                .map(|proxy| proxy.counts())
                .unwrap_or_default(),
            ..self.database_proxy_windows
        }
    }
}
