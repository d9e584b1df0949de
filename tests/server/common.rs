//! A test-only payment method, a router with every kind of paid route, and
//! helpers to pay its challenges.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::routing::{get, post};
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::{Map, Value, json};
use tower::ServiceExt as _;
use tower_mpp::axum::{Charge, Payment};
use tower_mpp::layer::{BodyDigestLayer, PaymentLayer};
use tower_mpp::method::{
    ChallengeIssued, MethodError, PaymentFailed, PaymentHooks, PaymentMethod, PaymentRejection,
    PaymentSettled, Payments, Price, RefundCandidate, Settlement, StaticPrice, Verification,
    VerifyError,
};
use tower_mpp::protocol::{Challenge, Credential, ProblemDetails, Receipt, parse_challenges};
use tower_mpp::store::{MemoryStore, Store};

pub(crate) const SECRET: &str = "test secret: at least thirty-two bytes long";
pub(crate) const REALM: &str = "api.example.com";

/// A method settled by a `proof` in the payload: `paid` pays, `short` is
/// insufficient, `unavailable` is an RPC outage, anything else is invalid.
pub(crate) struct Invoice {
    pub(crate) name: &'static str,
    pub(crate) currency: &'static str,
    pub(crate) calls: Arc<AtomicUsize>,
}

impl PaymentMethod for Invoice {
    fn name(&self) -> &str {
        self.name
    }

    fn request(
        &self,
        _intent: &str,
        price: &Price,
    ) -> Result<Option<Map<String, Value>>, MethodError> {
        if price
            .currency_override()
            .is_some_and(|c| c != self.currency)
        {
            return Ok(None);
        }
        let amount = price
            .amount()
            .to_base_units(2)
            .map_err(|e| MethodError::new("price has more than 2 decimals").with_source(e))?;
        let mut request = Map::new();
        request.insert("amount".into(), amount.to_string().into());
        request.insert("currency".into(), self.currency.into());
        request.insert("recipient".into(), "acct_1".into());
        Ok(Some(request))
    }

    async fn verify(&self, verification: &Verification<'_>) -> Result<Settlement, VerifyError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::task::yield_now().await;
        match verification
            .credential
            .payload
            .get("proof")
            .and_then(Value::as_str)
        {
            Some("paid") => Ok(Settlement::new(format!(
                "inv_{}",
                &verification.credential.challenge.id[..8]
            ))
            .receipt_field("payer", "acct_9")),
            Some("short") => Err(VerifyError::insufficient("The invoice was paid partially.")),
            Some("reverted") => {
                Err(VerifyError::failed("The invoice bounced, at a cost.").spends_challenge())
            }
            Some("unavailable") => Err(VerifyError::unavailable(
                Duration::from_secs(7),
                "The invoice service is down.",
            )),
            _ => Err(VerifyError::failed("The invoice proof is invalid.")),
        }
    }
}

#[derive(Default)]
pub(crate) struct Recorder {
    pub(crate) events: Mutex<Vec<String>>,
}

pub(crate) struct Hooks(pub(crate) Arc<Recorder>);

impl PaymentHooks for Hooks {
    fn challenge_issued(&self, event: &ChallengeIssued<'_>) {
        self.0.events.lock().unwrap().push(format!(
            "challenge {} x{}",
            event.scope,
            event.challenges.len()
        ));
    }
    fn payment_settled(&self, event: &PaymentSettled<'_>) {
        self.0.events.lock().unwrap().push(format!(
            "settled {} {}",
            event.scope, event.receipt.reference
        ));
    }
    fn payment_failed(&self, event: &PaymentFailed<'_>) {
        self.0.events.lock().unwrap().push(format!(
            "failed {} {}",
            event.scope,
            event.rejection.status()
        ));
    }
    fn refund_candidate(&self, event: &RefundCandidate<'_>) {
        self.0
            .events
            .lock()
            .unwrap()
            .push(format!("refund {} {}", event.scope, event.status));
    }
}

pub(crate) struct OneCent;
impl StaticPrice for OneCent {
    fn price() -> Price {
        Price::new("0.01")
            .unwrap()
            .description("A joke")
            .external_id("joke-1")
    }
}

pub(crate) struct OneDollar;
impl StaticPrice for OneDollar {
    fn price() -> Price {
        Price::new("1.00").unwrap()
    }
}

pub(crate) struct Euros;
impl StaticPrice for Euros {
    fn price() -> Price {
        Price::new("1").unwrap().currency("eur")
    }
}

pub(crate) struct Unpayable;
impl StaticPrice for Unpayable {
    fn price() -> Price {
        Price::new("0.001").unwrap()
    }
}

/// The test server and what it observed.
#[derive(Clone)]
pub(crate) struct App {
    pub(crate) router: Router,
    pub(crate) runs: Arc<AtomicUsize>,
    pub(crate) calls: Arc<AtomicUsize>,
    pub(crate) recorder: Arc<Recorder>,
}

#[derive(Clone)]
struct AppState {
    runs: Arc<AtomicUsize>,
}

async fn joke(State(s): State<AppState>, paid: Charge<OneCent>) -> String {
    s.runs.fetch_add(1, Ordering::SeqCst);
    let source = paid.source().unwrap_or("nobody");
    format!("joke paid by {} from {source}", paid.receipt().reference)
}

async fn expensive(State(s): State<AppState>, _paid: Charge<OneDollar>) -> &'static str {
    s.runs.fetch_add(1, Ordering::SeqCst);
    "expensive"
}

async fn euros(State(s): State<AppState>, _paid: Charge<Euros>) -> &'static str {
    s.runs.fetch_add(1, Ordering::SeqCst);
    "euros"
}

async fn unpayable(State(s): State<AppState>, _paid: Charge<Unpayable>) -> &'static str {
    s.runs.fetch_add(1, Ordering::SeqCst);
    "never"
}

async fn preview(State(s): State<AppState>, paid: Option<Charge<OneCent>>) -> &'static str {
    s.runs.fetch_add(1, Ordering::SeqCst);
    if paid.is_some() { "full" } else { "preview" }
}

async fn failing(State(s): State<AppState>, _paid: Charge<OneCent>) -> StatusCode {
    s.runs.fetch_add(1, Ordering::SeqCst);
    StatusCode::INTERNAL_SERVER_ERROR
}

async fn cached(State(s): State<AppState>, _paid: Charge<OneCent>) -> Response<Body> {
    s.runs.fetch_add(1, Ordering::SeqCst);
    Response::builder()
        .header("cache-control", "public, max-age=60")
        .body(Body::from("cached"))
        .unwrap()
}

async fn words(
    State(s): State<AppState>,
    payment: Payment,
    body: String,
) -> Result<String, PaymentRejection> {
    let count = body.split_whitespace().count() as u128;
    payment.charge(Price::base_units(count)).await?;
    s.runs.fetch_add(1, Ordering::SeqCst);
    Ok(format!(
        "{count} words from {}",
        payment.source().unwrap_or("nobody")
    ))
}

async fn free(State(s): State<AppState>) -> &'static str {
    s.runs.fetch_add(1, Ordering::SeqCst);
    "free"
}

pub(crate) fn payments<S: Store>(
    calls: &Arc<AtomicUsize>,
    recorder: &Arc<Recorder>,
    store: S,
) -> Payments {
    Payments::builder()
        .store(store)
        .realm(REALM)
        .secret(SECRET)
        .method(Invoice {
            name: "invoice",
            currency: "usd",
            calls: calls.clone(),
        })
        .method(Invoice {
            name: "card",
            currency: "usd",
            calls: calls.clone(),
        })
        .method(Invoice {
            name: "sepa",
            currency: "eur",
            calls: calls.clone(),
        })
        .hooks(Hooks(recorder.clone()))
        .build()
        .unwrap()
}

pub(crate) fn app() -> App {
    app_with(MemoryStore::default())
}

/// The test server on a given claim store.
pub(crate) fn app_with<S: Store>(store: S) -> App {
    let runs = Arc::new(AtomicUsize::new(0));
    let calls = Arc::new(AtomicUsize::new(0));
    let recorder = Arc::new(Recorder::default());
    let payments = payments(&calls, &recorder, store);
    let state = AppState { runs: runs.clone() };
    let fixed = Router::new()
        .route("/fixed", get(free))
        .route_layer(PaymentLayer::new(payments.clone()).charge(Price::new("0.05").unwrap()));
    let bound = Router::new()
        .route("/bound", post(words))
        .layer(PaymentLayer::new(payments.clone()))
        .layer(BodyDigestLayer::new(64));
    let router = Router::new()
        .route("/free", get(free))
        .route("/joke", get(joke))
        .route("/expensive", get(expensive))
        .route("/euros", get(euros))
        .route("/unpayable", get(unpayable))
        .route("/preview", get(preview))
        .route("/failing", get(failing))
        .route("/cached", get(cached))
        .route("/words", post(words))
        .layer(PaymentLayer::new(payments))
        .merge(fixed)
        .merge(bound)
        .route("/unlayered", get(joke))
        .with_state(state);
    App {
        router,
        runs,
        calls,
        recorder,
    }
}

/// A response, read whole.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: http::HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    pub(crate) fn challenges(&self) -> Vec<Challenge> {
        let values: Vec<&str> = self
            .headers
            .get_all("www-authenticate")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        parse_challenges(values).unwrap()
    }

    pub(crate) fn problem(&self) -> ProblemDetails {
        assert_eq!(self.headers["content-type"], "application/problem+json");
        serde_json::from_slice(&self.body).unwrap()
    }

    pub(crate) fn problem_code(&self) -> String {
        self.problem()
            .problem_type
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned()
    }

    pub(crate) fn receipt(&self) -> Option<Receipt> {
        self.headers
            .get("payment-receipt")
            .map(|v| Receipt::parse(v.to_str().unwrap()).unwrap())
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }

    /// A 4xx/5xx with a problem body; for 402s, fresh challenges whose id
    /// the body names; for 503s, a `Retry-After`; never a receipt. Returns
    /// the problem's detail.
    pub(crate) fn assert_rejected(&self, status: u16, code: &str) -> String {
        assert_eq!(self.status.as_u16(), status, "{}", self.text());
        assert_eq!(self.problem_code(), code, "{}", self.text());
        assert!(self.headers.get("payment-receipt").is_none());
        if status == 402 {
            let challenges = self.challenges();
            assert!(!challenges.is_empty(), "a 402 carries fresh challenges");
            assert_eq!(
                self.problem().challenge_id.as_deref(),
                Some(challenges[0].id.as_str())
            );
            assert_eq!(self.headers["cache-control"], "no-store");
        }
        if status == 503 {
            assert!(
                self.headers.get("retry-after").is_some(),
                "a 503 says when to retry"
            );
        }
        self.problem().detail.unwrap_or_default()
    }
}

pub(crate) async fn send(router: &Router, request: Request<Body>) -> Reply {
    let response = router.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes().to_vec();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// A `GET` with an `Authorization` header, read whole.
pub(crate) async fn send_auth(
    router: &Router,
    path: &str,
    authorization: impl AsRef<str>,
) -> Reply {
    let request = get_req(path)
        .header("authorization", authorization.as_ref())
        .body(Body::empty())
        .unwrap();
    send(router, request).await
}

pub(crate) fn get_req(path: &str) -> http::request::Builder {
    Request::builder().uri(path)
}

/// The authorization header value paying `challenge` with `proof`.
pub(crate) fn pay(challenge: &Challenge, proof: &str) -> String {
    let Value::Object(payload) = json!({"proof": proof}) else {
        unreachable!()
    };
    Credential::new(challenge.clone(), payload)
        .with_source("did:example:payer")
        .to_header()
        .unwrap()
}

/// The first challenge a route issues.
pub(crate) async fn challenge_for(
    router: &Router,
    method: &str,
    path: &str,
    body: &str,
) -> Challenge {
    let reply = send(
        router,
        Request::builder()
            .method(method)
            .uri(path)
            .body(Body::from(body.to_owned()))
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, 402, "{}", reply.text());
    reply.challenges().remove(0)
}
