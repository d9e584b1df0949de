//! [`IdempotencyLayer`]: retried paid requests answered with the response
//! they were paid for.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::BodyExt as _;
use tower_layer::Layer;
use tower_service::Service;

use super::context::PaymentContext;
use super::replay::{Pending, keepable, problem, replay, replay_key, unavailable};
use crate::method::Payments;
use crate::store::{Begun, CachedResponse, ResponseCache};

/// The request header naming a request for retries.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// The response header of a kept response sent again.
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// How long a kept response answers retries, by default: one hour.
pub const DEFAULT_REPLAY_TTL: Duration = Duration::from_secs(3600);
/// How long a request may be in flight before its key is free again, by
/// default: one minute.
pub const DEFAULT_PENDING_TTL: Duration = Duration::from_secs(60);
/// The largest body kept, by default: 1 MiB.
pub const DEFAULT_REPLAY_BODY: usize = 1 << 20;

/// A paid request retried with the same credential and `Idempotency-Key`
/// is answered with the response it was paid for, not paid again
/// ("Request Idempotency" of the Tempo session draft; it serves every
/// intent).
///
/// A client whose connection drops after paying can retry safely: a
/// charge's credential is single-use, and a session's request would debit
/// the channel again. The layer goes *outside* [`PaymentLayer`]
/// (after it in axum's `.layer` order), so a retry is answered before any
/// payment is verified:
///
/// - a request carrying `Authorization: Payment ...` whose challenge this
///   server issued (the HMAC checked first, as the payment layer does) and
///   an `Idempotency-Key` is keyed by a SHA-256 of its method, URI,
///   credential and key: only the holder of that exact credential gets
///   its response;
/// - the first such request is marked in flight, then served; a `2xx`
///   response that was paid for (the payment layer debited a price above
///   zero and marked it [`PaidResponse`](super::PaidResponse)) with a body
///   of known size within [`max_body`](IdempotencyLayer::max_body) is kept
///   for [`ttl`](IdempotencyLayer::ttl). A management request's `204` and
///   a free (zero-amount) payment are not kept: they cost nothing to
///   repeat, and must not push paid responses out of the cache;
/// - a retry gets the kept response (status, headers, body, receipt) with
///   `Idempotent-Replayed: true`, and the handler does not run;
/// - a retry while the first is still served gets `409 Conflict`;
/// - a response not kept (unpaid, an error, a stream, a body too large) frees the
///   key: a retry of it is served and paid as a new request.
///
/// A cache failure answers `503` with `Retry-After`, as the stores do.
///
/// [`PaymentLayer`]: super::PaymentLayer
///
/// ```
/// # use serde_json::{json, Map, Value};
/// # use tower_mpp::method::{MethodError, PaymentMethod, Price, Settlement, Verification, VerifyError};
/// # struct Invoice;
/// # impl PaymentMethod for Invoice {
/// #     fn name(&self) -> &str { "invoice" }
/// #     fn request(&self, _: &str, _: &Price) -> Result<Option<Map<String, Value>>, MethodError> {
/// #         Ok(json!({"amount": "50", "currency": "usd"}).as_object().cloned())
/// #     }
/// #     async fn verify(&self, _: &Verification<'_>) -> Result<Settlement, VerifyError> {
/// #         Err(VerifyError::failed("unpaid invoice"))
/// #     }
/// # }
/// use axum::{Router, routing::get};
/// use tower_mpp::layer::{IdempotencyLayer, PaymentLayer};
/// use tower_mpp::method::Payments;
/// use tower_mpp::store::MemoryResponseCache;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let payments = Payments::builder()
///     .realm("api.example.com")
///     .secret("a secret of at least thirty-two bytes!")
///     .method(Invoice)
///     .build()?;
/// let app: Router = Router::new()
///     .route("/report", get(|| async { "..." }))
///     .layer(PaymentLayer::new(payments.clone()))
///     // Outside the payment layer: added after it.
///     .layer(IdempotencyLayer::new(&payments, MemoryResponseCache::new()));
/// # Ok(()) }
/// ```
#[derive(Clone)]
#[must_use]
pub struct IdempotencyLayer {
    config: Arc<Config>,
}

#[derive(Clone)]
struct Config {
    payments: Payments,
    cache: Arc<dyn ResponseCache>,
    ttl: Duration,
    pending: Duration,
    max_body: usize,
}

impl IdempotencyLayer {
    /// Keeps responses in `cache` (a
    /// [`MemoryResponseCache`](crate::store::MemoryResponseCache), or a
    /// `RedisResponseCache` shared by several instances).
    ///
    /// Only credentials whose challenge `payments` issued reach the cache:
    /// a forged one costs no cache I/O, as it costs no store I/O in the
    /// [`PaymentLayer`](super::PaymentLayer).
    pub fn new(payments: &Payments, cache: impl ResponseCache) -> Self {
        Self {
            config: Arc::new(Config {
                payments: payments.clone(),
                cache: Arc::new(cache),
                ttl: DEFAULT_REPLAY_TTL,
                pending: DEFAULT_PENDING_TTL,
                max_body: DEFAULT_REPLAY_BODY,
            }),
        }
    }

    fn edit(mut self, change: impl FnOnce(&mut Config)) -> Self {
        change(Arc::make_mut(&mut self.config));
        self
    }

    /// How long a kept response answers retries (default
    /// [`DEFAULT_REPLAY_TTL`]).
    pub fn ttl(self, ttl: Duration) -> Self {
        self.edit(|config| config.ttl = ttl)
    }

    /// How long a request may be served before a retry of it is served
    /// again instead of answered `409` (default [`DEFAULT_PENDING_TTL`]).
    pub fn pending_ttl(self, pending: Duration) -> Self {
        self.edit(|config| config.pending = pending)
    }

    /// The largest body kept (default [`DEFAULT_REPLAY_BODY`]).
    pub fn max_body(self, bytes: usize) -> Self {
        self.edit(|config| config.max_body = bytes)
    }
}

impl fmt::Debug for IdempotencyLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdempotencyLayer")
            .field("ttl", &self.config.ttl)
            .field("pending_ttl", &self.config.pending)
            .field("max_body", &self.config.max_body)
            .finish_non_exhaustive()
    }
}

impl<S> Layer<S> for IdempotencyLayer {
    type Service = IdempotencyService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        IdempotencyService {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

/// The service of [`IdempotencyLayer`].
#[derive(Clone)]
pub struct IdempotencyService<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S: fmt::Debug> fmt::Debug for IdempotencyService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdempotencyService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

/// Response future of [`IdempotencyService`].
pub struct IdempotencyFuture<ResBody, E> {
    inner: Pin<Box<dyn Future<Output = Result<Response<ResBody>, E>> + Send>>,
}

impl<ResBody, E> fmt::Debug for IdempotencyFuture<ResBody, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdempotencyFuture").finish_non_exhaustive()
    }
}

impl<ResBody, E> Future for IdempotencyFuture<ResBody, E> {
    type Output = Result<Response<ResBody>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for IdempotencyService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Send,
    ReqBody: Send + 'static,
    ResBody: Body<Data = Bytes> + From<Bytes> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = IdempotencyFuture<ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let config = Arc::clone(&self.config);
        IdempotencyFuture {
            inner: Box::pin(serve(inner, config, request)),
        }
    }
}

async fn serve<S, ReqBody, ResBody>(
    mut inner: S,
    config: Arc<Config>,
    mut request: Request<ReqBody>,
) -> Result<Response<ResBody>, S::Error>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Body<Data = Bytes> + From<Bytes>,
{
    if request.extensions().get::<PaymentContext>().is_some() {
        return Ok(problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the IdempotencyLayer is inside the PaymentLayer: add it after (outside) it",
        ));
    }
    let key = match replay_key(&mut request, &config.payments) {
        Ok(Some(key)) => key,
        Ok(None) => return inner.call(request).await,
        Err(why) => return Ok(problem(StatusCode::BAD_REQUEST, why)),
    };
    match config.cache.begin(&key, config.pending).await {
        Err(_) => return Ok(unavailable()),
        Ok(Begun::Done(kept)) => return Ok(replay(kept)),
        Ok(Begun::InFlight) => {
            return Ok(problem(
                StatusCode::CONFLICT,
                "a request with this Idempotency-Key and credential is still being served",
            ));
        }
        Ok(Begun::New) => {}
    }
    let mut pending = Pending {
        cache: Some(Arc::clone(&config.cache)),
        key,
    };
    let response = inner.call(request).await?;
    if !keepable(&response, config.max_body) {
        pending.abandon().await;
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let Ok(body) = body
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
    else {
        pending.abandon().await;
        return Ok(problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the paid response's body failed while it was read",
        ));
    };
    let headers = parts
        .headers
        .iter()
        .filter_map(|(name, value)| {
            Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect();
    let kept = CachedResponse::new(parts.status.as_u16(), headers, body.clone());
    // Kept or not, the response goes out: a cache failure only means a
    // retry is served again.
    if config
        .cache
        .finish(&pending.key, &kept, config.ttl)
        .await
        .is_ok()
    {
        pending.cache = None;
    } else {
        pending.abandon().await;
    }
    Ok(Response::from_parts(parts, ResBody::from(body)))
}

#[cfg(test)]
#[path = "idempotency_tests.rs"]
mod tests;
