//! Whether the Redis server keeps its data across a restart: claims it
//! forgets reopen proofs that were already served, so the store asks once,
//! at connect time, and warns when it does not.

use redis::aio::ConnectionManager;

/// How a Redis server keeps its data, as `CONFIG GET` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Persistence {
    /// An append-only file (`appendonly yes`): what the claims need.
    AppendOnly,
    /// Snapshots only (`save` set, `appendonly no`): a crash loses the
    /// claims made since the last snapshot.
    Snapshots,
    /// Nothing on disk: a restart forgets every claim.
    None,
    /// The server does not allow `CONFIG GET` (a managed Redis, an ACL):
    /// check its persistence by its own means.
    Unknown,
}

impl Persistence {
    /// Asks the server.
    pub(super) async fn of(connection: &mut ConnectionManager) -> Self {
        let appendonly = config_get(connection, "appendonly").await;
        let save = config_get(connection, "save").await;
        match (appendonly.as_deref(), save.as_deref()) {
            (Some("yes"), _) => Self::AppendOnly,
            (Some(_), Some(save)) if !save.trim().is_empty() => Self::Snapshots,
            (Some(_), Some(_)) => Self::None,
            _ => Self::Unknown,
        }
    }

    /// Says so when the server may forget claims.
    pub(super) fn warn(self, server: &str) {
        #[cfg(feature = "tracing")]
        match self {
            Self::AppendOnly | Self::Unknown => {}
            Self::Snapshots => tracing::warn!(
                target: "tower_mpp",
                server,
                "Redis persists by snapshots only: a crash forgets the claims made since the last one, and the payments they guarded can be served again; set `appendonly yes`"
            ),
            Self::None => tracing::warn!(
                target: "tower_mpp",
                server,
                "Redis does not persist: a restart forgets every claim, and payments already served can be served again; set `appendonly yes`"
            ),
        }
        #[cfg(not(feature = "tracing"))]
        let _ = (self, server);
    }
}

/// One `CONFIG GET` value; `None` when the server refuses or lacks it.
async fn config_get(connection: &mut ConnectionManager, name: &str) -> Option<String> {
    let reply: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg(name)
        .query_async(connection)
        .await
        .ok()?;
    reply.into_iter().nth(1)
}
