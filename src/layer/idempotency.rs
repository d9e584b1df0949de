//! [`IdempotencyLayer`]: retried paid requests answered with the response
//! they were paid for.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::BodyExt as _;
use sha2::{Digest as _, Sha256};
use tower_layer::Layer;
use tower_service::Service;

use super::PAYMENT_RECEIPT;
use super::context::{ParsedCredential, PaymentContext};
use crate::method::Payments;
use crate::protocol::{Credential, PROBLEM_JSON, ProblemDetails};
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

/// The longest `Idempotency-Key` accepted.
const MAX_KEY_LEN: usize = 255;

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
///   response with a `Payment-Receipt` and a body of known size within
///   [`max_body`](IdempotencyLayer::max_body) is kept for
///   [`ttl`](IdempotencyLayer::ttl);
/// - a retry gets the kept response (status, headers, body, receipt) with
///   `Idempotent-Replayed: true`, and the handler does not run;
/// - a retry while the first is still served gets `409 Conflict`;
/// - a response not kept (an error, a stream, a body too large) frees the
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

/// The key of a paid request that names itself for retries: `None`
/// without a `Payment` credential or an `Idempotency-Key`.
/// The credential read here is left in the request's extensions for the
/// payment layer.
fn replay_key<B>(
    request: &mut Request<B>,
    payments: &Payments,
) -> Result<Option<String>, &'static str> {
    let mut keys = request.headers().get_all(IDEMPOTENCY_KEY).iter();
    let (Some(key), None) = (keys.next(), keys.next()) else {
        return if request.headers().contains_key(IDEMPOTENCY_KEY) {
            Err("a request carries one Idempotency-Key at most")
        } else {
            Ok(None)
        };
    };
    let Some(header) = request
        .headers()
        .get(AUTHORIZATION)
        .filter(|value| {
            value
                .as_bytes()
                .get(..8)
                .is_some_and(|scheme| scheme.eq_ignore_ascii_case(b"payment "))
        })
        .cloned()
    else {
        return Ok(None);
    };
    // A credential this server did not issue is the payment layer's to
    // refuse: it never touches the cache.
    let Some(credential) = header
        .to_str()
        .ok()
        .and_then(|text| Credential::parse(text).ok())
        .filter(|credential| payments.issued(&credential.challenge))
    else {
        return Ok(None);
    };
    let key = key.as_bytes();
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.iter().all(|b| (0x20..0x7f).contains(b)) {
        return Err("an Idempotency-Key is 1 to 255 visible ASCII characters");
    }
    let mut hash = Sha256::new();
    for part in [
        request.method().as_str().as_bytes(),
        request.uri().to_string().as_bytes(),
        header.as_bytes(),
        key,
    ] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    request
        .extensions_mut()
        .insert(ParsedCredential { header, credential });
    Ok(Some(crate::protocol::base64url::encode(hash.finalize())))
}

/// Whether a response is kept: a paid `2xx` (it carries a receipt) that is
/// not a stream, with a body of known size within `max_body`.
fn keepable<B: Body>(response: &Response<B>, max_body: usize) -> bool {
    let streamed = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"text/event-stream"));
    response.status().is_success()
        && response.headers().contains_key(PAYMENT_RECEIPT)
        && !streamed
        && response
            .body()
            .size_hint()
            .upper()
            .is_some_and(|n| n <= max_body as u64)
}

fn replay<ResBody: From<Bytes>>(kept: CachedResponse) -> Response<ResBody> {
    let mut response = Response::new(ResBody::from(kept.body));
    *response.status_mut() = StatusCode::from_u16(kept.status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    for (name, value) in kept.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.append(name, value);
        }
    }
    headers.insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    response
}

fn problem<ResBody: From<Bytes>>(status: StatusCode, detail: &str) -> Response<ResBody> {
    let body = ProblemDetails::custom(
        "about:blank",
        status.canonical_reason().unwrap_or("Error"),
        status,
    )
    .with_detail(detail)
    .to_json();
    let mut response = Response::new(ResBody::from(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    response
}

fn unavailable<ResBody: From<Bytes>>() -> Response<ResBody> {
    let mut response = problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "the response cache is unavailable",
    );
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// A key marked in flight: freed when its request ends without a response
/// kept, also when the request is dropped (the client went away).
struct Pending {
    cache: Option<Arc<dyn ResponseCache>>,
    key: String,
}

impl Pending {
    async fn abandon(&mut self) {
        if let Some(cache) = self.cache.take() {
            // A failure leaves the mark to expire after the pending time.
            let _ = cache.abandon(&self.key).await;
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        let Some(cache) = self.cache.take() else {
            return;
        };
        let key = std::mem::take(&mut self.key);
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let _ = cache.abandon(&key).await;
            });
        }
    }
}

#[cfg(test)]
#[path = "idempotency_tests.rs"]
mod tests;
