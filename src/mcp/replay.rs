//! Retries of a paid call with the same credential, answered with the
//! result it paid for (the MCP form of the HTTP `IdempotencyLayer`, on the
//! same [`ResponseCache`]).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rmcp::model::{ErrorCode, ErrorData};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::server::{PaidResponse, in_flight};
use super::wire::INTERNAL_ERROR;
use crate::layer::{DEFAULT_PENDING_TTL, DEFAULT_REPLAY_TTL};
use crate::protocol::{base64url, canonical_json};
use crate::store::{Begun, CachedResponse, ResponseCache};

/// The replay cache of a server.
#[derive(Clone)]
pub(super) struct Replay {
    cache: Arc<dyn ResponseCache>,
    pub(super) ttl: Duration,
    pending: Duration,
}

/// What the cache holds for a credential.
pub(super) enum Kept {
    /// Nothing: the call is now in flight, to be served.
    New,
    /// The result it paid for.
    Result(KeptResult),
    /// Still in flight, or the cache failed: the error to answer.
    Refused(ErrorData),
}

/// A kept result, as JSON.
pub(super) struct KeptResult(Bytes);

impl KeptResult {
    pub(super) fn decode<R: PaidResponse>(&self) -> Result<R, ErrorData> {
        R::from_kept(&self.0).ok_or_else(unavailable)
    }
}

impl Replay {
    pub(super) fn new(cache: Arc<dyn ResponseCache>) -> Self {
        Self {
            cache,
            ttl: DEFAULT_REPLAY_TTL,
            pending: DEFAULT_PENDING_TTL,
        }
    }

    /// The key of a call: its scope and the whole credential, hashed.
    pub(super) fn key(scope: &str, credential: &Value) -> String {
        let mut hash = Sha256::new();
        hash.update(scope.as_bytes());
        hash.update(b"\n");
        hash.update(canonical_json(credential).unwrap_or_default().as_bytes());
        format!("mcp:{}", base64url::encode(hash.finalize()))
    }

    pub(super) async fn begin(&self, key: &str) -> Kept {
        match self.cache.begin(key, self.pending).await {
            Ok(Begun::New) => Kept::New,
            Ok(Begun::Done(kept)) => Kept::Result(KeptResult(kept.body)),
            Ok(Begun::InFlight) => Kept::Refused(in_flight()),
            Err(_) => Kept::Refused(unavailable()),
        }
    }

    /// Keeps a paid result (`kept`, its JSON); frees the key without one.
    /// A result that cannot be kept leaves its retry to be paid again, as
    /// a full cache does.
    pub(super) async fn end(&self, key: &str, kept: Option<Vec<u8>>) {
        if let Some(body) = kept {
            let kept = CachedResponse::new(200, Vec::new(), Bytes::from(body));
            if self.cache.finish(key, &kept, self.ttl).await.is_ok() {
                return;
            }
        }
        let _ = self.cache.abandon(key).await;
    }
}

impl fmt::Debug for Replay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Replay")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// The cache could not answer: the client may retry.
fn unavailable() -> ErrorData {
    ErrorData::new(
        ErrorCode(INTERNAL_ERROR),
        "Internal error",
        Some(json!({
            "httpStatus": 503,
            "retryAfter": 1,
            "detail": "Payments are temporarily unavailable.",
        })),
    )
}
