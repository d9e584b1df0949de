use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};

use http_body_util::{Full, StreamBody};
use tokio::sync::Semaphore;
use tower::{ServiceBuilder, ServiceExt as _};

use http::HeaderValue;
use http::header::{AUTHORIZATION, CONTENT_TYPE};

use super::*;
use crate::layer::PAYMENT_RECEIPT;
use crate::layer::PaymentLayer;
use crate::method::{MethodError, PaymentMethod, Payments, Settlement, Verification, VerifyError};
use crate::protocol::{Credential, PROBLEM_JSON};
use crate::store::MemoryResponseCache;

type Reply = Response<Full<Bytes>>;

/// A method that never verifies: only its presence matters here.
struct Unpaid;

impl PaymentMethod for Unpaid {
    fn name(&self) -> &'static str {
        "unpaid"
    }

    fn request(
        &self,
        _: &str,
        _: &crate::method::Price,
    ) -> Result<Option<serde_json::Map<String, serde_json::Value>>, MethodError> {
        Ok(serde_json::json!({"amount": "1", "currency": "usd"})
            .as_object()
            .cloned())
    }

    async fn verify(&self, _: &Verification<'_>) -> Result<Settlement, VerifyError> {
        Err(VerifyError::failed("unpaid"))
    }
}

/// The payments the tests' credentials answer (one per process).
fn payments() -> &'static Payments {
    static PAYMENTS: std::sync::OnceLock<Payments> = std::sync::OnceLock::new();
    PAYMENTS.get_or_init(|| {
        Payments::builder()
            .realm("api.example.com")
            .secret("a secret of at least thirty-two bytes!")
            .method(Unpaid)
            .build()
            .unwrap()
    })
}

/// A credential answering a fresh challenge of [`payments`].
fn issued() -> String {
    let challenge = payments()
        .challenges(
            &crate::method::Price::base_units(1),
            &crate::method::ChargeContext::default(),
        )
        .unwrap()
        .remove(0);
    Credential::new(challenge, serde_json::Map::new())
        .to_header()
        .unwrap()
}

fn layer() -> IdempotencyLayer {
    IdempotencyLayer::new(payments(), MemoryResponseCache::new())
}

/// A paid handler: `200`, a receipt, its call count as the body.
fn paid(
    calls: Arc<AtomicUsize>,
) -> impl Service<Request<()>, Response = Reply, Error = Infallible, Future: Send> + Clone + Send + 'static
{
    tower::service_fn(move |_: Request<()>| {
        let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
        async move {
            let mut response = Response::new(Full::from(format!("call {n}")));
            response
                .headers_mut()
                .insert(PAYMENT_RECEIPT, HeaderValue::from_static("receipt"));
            response.extensions_mut().insert(paid_for());
            Ok(response)
        }
    })
}

/// What the payment layer puts on a response it debited for.
fn paid_for() -> crate::layer::PaidResponse {
    crate::layer::PaidResponse {
        receipt: crate::protocol::Receipt::new(
            "unpaid".to_owned(),
            crate::protocol::Timestamp::now(),
            "ref".to_owned(),
        ),
    }
}

fn request(credential: &str, key: Option<&str>) -> Request<()> {
    let mut request = Request::get("/thing").header(AUTHORIZATION, credential);
    if let Some(key) = key {
        request = request.header(IDEMPOTENCY_KEY, key);
    }
    request.body(()).unwrap()
}

async fn text(response: Reply) -> String {
    let body = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

#[tokio::test]
async fn a_retry_is_replayed_and_other_requests_are_served() {
    let a = issued();
    let b = issued();
    let calls = Arc::new(AtomicUsize::new(0));
    let service = layer().layer(paid(calls.clone()));
    let first = service
        .clone()
        .oneshot(request(&a, Some("k")))
        .await
        .unwrap();
    assert!(!first.headers().contains_key(IDEMPOTENT_REPLAYED));
    assert_eq!(text(first).await, "call 1");
    let retry = service
        .clone()
        .oneshot(request(&a, Some("k")))
        .await
        .unwrap();
    assert_eq!(retry.headers()[IDEMPOTENT_REPLAYED], "true");
    assert_eq!(retry.headers()[PAYMENT_RECEIPT], "receipt");
    assert_eq!(text(retry).await, "call 1");
    for other in [
        request(&a, Some("other key")),
        request(&b, Some("k")),
        request(&a, None),
        request("Bearer a", Some("k")),
        // Forged: never reaches the cache, so it is served each time.
        request("Payment forged", Some("k")),
        request("Payment forged", Some("k")),
    ] {
        let response = service.clone().oneshot(other).await.unwrap();
        assert!(!response.headers().contains_key(IDEMPOTENT_REPLAYED));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 7);
}

#[tokio::test]
async fn a_retry_while_the_first_is_served_is_a_conflict() {
    let a = issued();
    let gate = Arc::new(Semaphore::new(0));
    let entered = Arc::new(tokio::sync::Notify::new());
    let calls = Arc::new(AtomicUsize::new(0));
    let (waiting, entering) = (gate.clone(), entered.clone());
    let inner = paid(calls.clone());
    let slow = tower::service_fn(move |request: Request<()>| {
        let (gate, entered, inner) = (waiting.clone(), entering.clone(), inner.clone());
        async move {
            entered.notify_one();
            let _pass = gate.acquire().await.unwrap();
            inner.oneshot(request).await
        }
    });
    let service = layer().layer(slow);
    let first = tokio::spawn(service.clone().oneshot(request(&a, Some("k"))));
    entered.notified().await;
    let conflict = service
        .clone()
        .oneshot(request(&a, Some("k")))
        .await
        .unwrap();
    assert_eq!(conflict.status(), StatusCode::CONFLICT);
    assert_eq!(conflict.headers()[CONTENT_TYPE], PROBLEM_JSON);
    gate.add_permits(1);
    assert_eq!(first.await.unwrap().unwrap().status(), StatusCode::OK);
    let retry = service.oneshot(request(&a, Some("k"))).await.unwrap();
    assert_eq!(retry.headers()[IDEMPOTENT_REPLAYED], "true");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn failures_streams_and_large_bodies_are_not_kept() {
    let a = issued();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let inner = tower::service_fn(move |request: Request<()>| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move {
            let kind = request.uri().path().to_owned();
            let mut response = Response::new(Full::from(if kind == "/large" {
                "x".repeat(100)
            } else {
                format!("call {n}")
            }));
            response
                .headers_mut()
                .insert(PAYMENT_RECEIPT, HeaderValue::from_static("receipt"));
            if kind != "/free" {
                response.extensions_mut().insert(paid_for());
            }
            match kind.as_str() {
                "/failed" => *response.status_mut() = StatusCode::BAD_GATEWAY,
                "/stream" => {
                    response
                        .headers_mut()
                        .insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
                }
                "/unpaid" => {
                    response.headers_mut().remove(PAYMENT_RECEIPT);
                }
                _ => {}
            }
            Ok::<_, Infallible>(response)
        }
    });
    let service = layer().max_body(50).layer(inner);
    for path in ["/failed", "/stream", "/unpaid", "/large", "/free"] {
        for _ in 0..2 {
            let mut retry = request(&a, Some("k"));
            *retry.uri_mut() = path.parse().unwrap();
            let response = service.clone().oneshot(retry).await.unwrap();
            assert!(
                !response.headers().contains_key(IDEMPOTENT_REPLAYED),
                "{path}"
            );
        }
    }
    assert_eq!(calls.load(Ordering::SeqCst), 10, "each served twice");
}

/// A thousand free answers (a receipt, no debit: a management request's
/// `204`) with distinct keys do not fill the cache: a paid response after
/// them is kept and answers its retry.
#[tokio::test]
async fn free_responses_do_not_push_paid_ones_out() {
    let a = issued();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let inner = tower::service_fn(move |request: Request<()>| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move {
            let mut response = Response::new(Full::from(format!("call {n}")));
            response.headers_mut().insert(
                PAYMENT_RECEIPT,
                HeaderValue::from_static("a receipt of some length, as a session's is"),
            );
            if request.uri().path() == "/free" {
                *response.status_mut() = StatusCode::NO_CONTENT;
            } else {
                response.extensions_mut().insert(paid_for());
            }
            Ok::<_, Infallible>(response)
        }
    });
    let cache = MemoryResponseCache::with_max_bytes(20_000);
    let service = IdempotencyLayer::new(payments(), cache).layer(inner);
    for i in 0..1000 {
        let mut free = request(&a, Some(&format!("free-{i}")));
        *free.uri_mut() = "/free".parse().unwrap();
        service.clone().oneshot(free).await.unwrap();
    }
    let first = service
        .clone()
        .oneshot(request(&a, Some("paid")))
        .await
        .unwrap();
    assert_eq!(text(first).await, "call 1000");
    let retry = service
        .clone()
        .oneshot(request(&a, Some("paid")))
        .await
        .unwrap();
    assert_eq!(retry.headers()[IDEMPOTENT_REPLAYED], "true");
    assert_eq!(text(retry).await, "call 1000");
    assert_eq!(calls.load(Ordering::SeqCst), 1001);
}

#[test]
fn a_body_of_unknown_size_is_not_kept() {
    let chunks = futures_util::stream::empty::<Result<http_body::Frame<Bytes>, Infallible>>();
    let mut response = Response::new(StreamBody::new(chunks));
    response
        .headers_mut()
        .insert(PAYMENT_RECEIPT, HeaderValue::from_static("receipt"));
    response.extensions_mut().insert(paid_for());
    assert!(!keepable(&response, usize::MAX));
    let known = response.map(|_| Full::new(Bytes::from_static(b"known")));
    assert!(keepable(&known, 5));
    assert!(!keepable(&known, 4));
}

#[tokio::test]
async fn bad_keys_are_refused_and_a_layer_inside_the_payment_layer_is_reported() {
    let a = issued();
    let calls = Arc::new(AtomicUsize::new(0));
    let service = layer().layer(paid(calls.clone()));
    let long = "k".repeat(256);
    for key in ["", long.as_str(), "tab\there"] {
        let response = service
            .clone()
            .oneshot(request(&a, Some(key)))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{key:?}");
    }
    let mut two = request(&a, Some("k"));
    two.headers_mut()
        .append(IDEMPOTENCY_KEY, HeaderValue::from_static("k2"));
    let response = service.clone().oneshot(two).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    let misordered = ServiceBuilder::new()
        .layer(PaymentLayer::new(payments().clone()))
        .layer(layer())
        .service(paid(calls.clone()));
    let response = misordered.oneshot(request(&a, Some("k"))).await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

/// A request dropped while served (the client went away) frees its key:
/// its retry is served, not answered `409`.
#[tokio::test]
async fn a_dropped_request_frees_its_key() {
    let a = issued();
    let entered = Arc::new(tokio::sync::Notify::new());
    let calls = Arc::new(AtomicUsize::new(0));
    let entering = entered.clone();
    let inner = paid(calls.clone());
    let first_call = Arc::new(AtomicUsize::new(0));
    let hanging = tower::service_fn(move |request: Request<()>| {
        let (entered, inner) = (entering.clone(), inner.clone());
        let hang = first_call.fetch_add(1, Ordering::SeqCst) == 0;
        async move {
            if hang {
                entered.notify_one();
                std::future::pending::<()>().await;
            }
            inner.oneshot(request).await
        }
    });
    let service = layer().layer(hanging);
    let first = tokio::spawn(service.clone().oneshot(request(&a, Some("k"))));
    entered.notified().await;
    first.abort();
    let _ = first.await;
    // The abandon runs on a task of its own.
    tokio::task::yield_now().await;
    let retry = service.oneshot(request(&a, Some("k"))).await.unwrap();
    assert_eq!(retry.status(), StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}
