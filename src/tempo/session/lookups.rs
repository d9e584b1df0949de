//! Reading channels the store does not know from the escrow, bounded.
//!
//! A credential naming a channel the store does not know costs a node call
//! (`getChannel`): the channel may be open on chain (a store that forgot,
//! another store). So that credentials naming random channels cannot spend
//! the node's quota, "not found" is remembered briefly in this instance
//! ([`NOT_FOUND_FOR`], at most [`NOT_FOUND_CAP`] channels), and a
//! challenge that had its failed attempts (see
//! [`ChallengeAttempts`]) makes no more lookups: its client asks for a
//! fresh challenge.
//!
//! The credential's attempts reach the lookup through a task-local set for
//! the credential's action, so the actions need not carry them.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use alloy_primitives::B256;

use super::chain::OnChain;
use super::method::{Inner, rpc_unavailable};
use crate::method::{ChallengeAttempts, VerifyError};
use crate::protocol::ProblemType;

/// How long a channel the escrow did not know is not looked up again.
pub(super) const NOT_FOUND_FOR: Duration = Duration::from_secs(30);
/// The most channels remembered as not found.
pub(super) const NOT_FOUND_CAP: usize = 4096;

tokio::task_local! {
    static ATTEMPTS: ChallengeAttempts;
}

/// Runs `action` with the credential's `attempts` visible to lookups.
pub(super) fn with_attempts<F: Future>(
    attempts: ChallengeAttempts,
    action: F,
) -> impl Future<Output = F::Output> {
    ATTEMPTS.scope(attempts, action)
}

/// Channels the escrow did not know, recently, in this instance.
#[derive(Debug, Default)]
pub(super) struct NotFound {
    until: Mutex<HashMap<B256, Instant>>,
}

impl NotFound {
    fn contains(&self, id: B256, now: Instant) -> bool {
        self.lock().get(&id).is_some_and(|&until| until > now)
    }

    fn remember(&self, id: B256, now: Instant) {
        let mut until = self.lock();
        if until.len() >= NOT_FOUND_CAP {
            until.retain(|_, end| *end > now);
        }
        // Full of fresh entries: the attempts still bound the lookups.
        if until.len() < NOT_FOUND_CAP {
            until.insert(id, now + NOT_FOUND_FOR);
        }
    }

    fn forget(&self, id: B256) {
        self.lock().remove(&id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<B256, Instant>> {
        self.until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Inner {
    /// `getChannel(id)` for a channel the store does not know: refused
    /// without a node call when it was not found lately, or when the
    /// credential's challenge had its failed attempts.
    pub(super) async fn read_unknown(&self, id: B256) -> Result<OnChain, VerifyError> {
        let now = Instant::now();
        if self.not_found.contains(id, now) {
            return Err(super::method::not_found(id));
        }
        let attempts = ATTEMPTS.try_with(Clone::clone).ok();
        if let Some(attempts) = attempts
            && attempts.exhausted().await
        {
            return Err(VerifyError::problem(
                ProblemType::InvalidChallenge,
                "This challenge had too many failed attempts: answer a fresh one.",
            ));
        }
        let on = self.read_channel(id).await.map_err(rpc_unavailable)?;
        if on.exists() {
            self.not_found.forget(id);
        } else {
            self.not_found.remember(id, now);
        }
        Ok(on)
    }
}
