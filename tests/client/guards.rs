//! What the client refuses to do, and what it does when the server
//! refuses: cross-origin redirects, a body resent byte for byte, bodies
//! that cannot be resent, credentials the server rejects.

use alloy::primitives::U256;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use std::sync::{Arc, Mutex};
use tower_mpp::client::{
    ClientError, PayError, PaymentExt, PaymentProvider, SpendingPolicy, TempoProvider, WithPolicy,
};
use tower_mpp::protocol::{Challenge, Credential, ProblemType};

use crate::common::{PRICE, Server, http, serve};

/// A `402` reached through a redirect to another origin is not paid.
#[tokio::test]
async fn a_402_from_another_origin_is_not_paid() {
    let server = Server::start().await;
    let payer = server.payer(1_000_000).await;
    let provider = server.provider(payer.clone());
    let target = server.at("/paid");
    let elsewhere = serve(Router::new().route(
        "/moved",
        get(move || async move { Redirect::temporary(&target) }),
    ))
    .await;

    let error = http()
        .get(format!("{elsewhere}/moved"))
        .send_with_payment(&provider)
        .await
        .unwrap_err();

    assert!(
        matches!(error, ClientError::CrossOriginRedirect { .. }),
        "{error:?}"
    );
    assert_eq!(server.balance(payer.address()).await, U256::from(1_000_000));
    assert!(server.seen().iter().all(|s| !s.paid));
}

/// When the paid retry is redirected to another origin, the credential
/// does not follow it.
#[tokio::test]
async fn the_credential_does_not_follow_a_cross_origin_redirect() {
    let (response, leaked) = redirected_retry(None).await;
    assert_eq!(response.text().await.unwrap(), "sink");
    assert_eq!(leaked, [false]);
}

/// Nor when the challenge asks for it in `Payment-Authorization`, a header
/// that reqwest keeps on redirects: that retry is not redirected at all
/// (the `307` comes back as the answer).
#[tokio::test]
async fn a_payment_authorization_credential_does_not_follow_a_cross_origin_redirect() {
    let (response, leaked) = redirected_retry(Some("Payment-Authorization")).await;
    assert!(leaked.iter().all(|carried| !carried), "{leaked:?}");
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
}

/// A trap answers `402` with our server's real challenge (naming the
/// credential header `header`, if any), then redirects the paid retry to
/// a sink at another origin: the answer, and whether each request the
/// sink got carried a credential.
async fn redirected_retry(header: Option<&str>) -> (reqwest::Response, Vec<bool>) {
    let server = Server::start().await;
    let provider = server.provider(server.payer(1_000_000).await);
    let leaked = Arc::new(Mutex::new(Vec::new()));
    let sink = serve(
        Router::new()
            .route(
                "/sink",
                get(
                    |State(leaked): State<Arc<Mutex<Vec<bool>>>>, headers: HeaderMap| async move {
                        leaked.lock().unwrap().push(
                            headers.contains_key("authorization")
                                || headers.contains_key("payment-authorization"),
                        );
                        "sink"
                    },
                ),
            )
            .with_state(leaked.clone()),
    )
    .await;
    let challenges = http().get(server.at("/paid")).send().await.unwrap();
    let mut challenge =
        Challenge::parse(challenges.headers()["www-authenticate"].to_str().unwrap()).unwrap();
    challenge.header = header.map(str::to_owned);
    let challenge = challenge.to_header().unwrap();
    let trap = serve(Router::new().route(
        "/trap",
        get(move |headers: HeaderMap| async move {
            if headers.contains_key("authorization")
                || headers.contains_key("payment-authorization")
            {
                Redirect::temporary(&format!("{sink}/sink")).into_response()
            } else {
                (
                    StatusCode::PAYMENT_REQUIRED,
                    [("www-authenticate", challenge)],
                )
                    .into_response()
            }
        }),
    ))
    .await;

    let response = http()
        .get(format!("{trap}/trap"))
        .send_with_payment(&provider)
        .await
        .unwrap();
    let leaked = leaked.lock().unwrap().clone();
    (response, leaked)
}

/// The retry resends the same body, so a challenge bound to its digest
/// is paid and the handler reads the body.
#[tokio::test]
async fn the_body_is_resent_byte_for_byte() {
    let server = Server::start().await;
    let provider = server.provider(server.payer(1_000_000).await);
    let body = "{\"document\": \"\u{00e9}t\u{00e9}\", \"bytes\": [0, 1, 2]}\n".repeat(100);

    let response = http()
        .post(server.at("/echo"))
        .body(body.clone())
        .send_with_payment(&provider)
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), body);
    assert_eq!(server.balance(server.recipient).await, U256::from(PRICE));
}

/// A streamed body cannot be resent: nothing is paid.
#[tokio::test]
async fn a_streamed_body_is_not_paid_for() {
    let server = Server::start().await;
    let payer = server.payer(1_000_000).await;
    let provider = server.provider(payer.clone());
    let chunks = futures_util::stream::iter([Ok::<_, std::io::Error>("a streamed body")]);

    let error = http()
        .post(server.at("/echo"))
        .body(reqwest::Body::wrap_stream(chunks))
        .send_with_payment(&provider)
        .await
        .unwrap_err();

    assert!(matches!(error, ClientError::BodyNotReplayable), "{error:?}");
    assert_eq!(server.balance(payer.address()).await, U256::from(1_000_000));
}

/// A provider whose credentials are worthless.
struct Forger;
impl PaymentProvider for Forger {
    fn supports(&self, method: &str, _: &str) -> bool {
        method == "tempo"
    }
    async fn pay(&self, challenge: &Challenge) -> Result<Credential, PayError> {
        let payload = serde_json::json!({"type": "transaction", "signature": "0x76c0"});
        Ok(Credential::new(
            challenge.clone(),
            payload.as_object().unwrap().clone(),
        ))
    }
}

/// A refused credential is a typed error with the server's problem.
#[tokio::test]
async fn a_rejected_credential_carries_the_problem() {
    let server = Server::start().await;
    let error = server.get("/paid", &Forger).await.unwrap_err();
    let ClientError::Rejected { status, problem } = error else {
        panic!("{error:?}")
    };
    assert_eq!(status, 402);
    let problem = problem.expect("problem details");
    assert!(
        matches!(
            problem.core_type(),
            Some(ProblemType::MalformedCredential | ProblemType::VerificationFailed)
        ),
        "{problem:?}"
    );
    assert!(problem.challenge_id.is_some());
}

/// A challenge on another chain than the node's is refused before
/// anything is signed, and reported as no payable challenge.
#[tokio::test]
async fn a_challenge_for_another_chain_is_not_paid() {
    let server = Server::start().await;
    let payer = server.payer(1_000_000).await;
    let provider = TempoProvider::new(payer.clone(), &server.anvil.url)
        .unwrap()
        .chain_id(4217);
    let error = server.get("/paid", &provider).await.unwrap_err();
    let ClientError::NoPayableChallenge { offered, refusals } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(offered, &["tempo/charge"]);
    assert!(
        matches!(&refusals[..], [PayError::InvalidChallenge(why)] if why.contains("chain 1337")),
        "{error}"
    );
    assert_eq!(server.balance(payer.address()).await, U256::from(1_000_000));
}

/// A payer without funds: the node's estimate fails, nothing is sent.
#[tokio::test]
async fn a_payer_without_funds_fails_before_sending() {
    let server = Server::start().await;
    let provider = server.provider(alloy::signers::local::PrivateKeySigner::random());
    let error = server.get("/paid", &provider).await.unwrap_err();
    assert!(
        matches!(error, ClientError::PaymentFailed(PayError::Failed(_))),
        "{error:?}"
    );
    assert_eq!(server.seen().iter().filter(|s| s.paid).count(), 0);
}

/// A challenge whose realm names another server (relayed to make this
/// client pay for someone else) is not paid by default; a policy that
/// lists the realm, or allows any, pays it (#13).
#[tokio::test]
async fn a_challenge_of_another_realm_is_not_paid() {
    let server = Server::start_in_realm("api.example.com", |builder| builder).await;
    let payer = server.payer(1_000_000).await;

    let error = server
        .get("/paid", &server.provider(payer.clone()))
        .await
        .unwrap_err();
    let ClientError::NoPayableChallenge { refusals, .. } = &error else {
        panic!("{error:?}")
    };
    assert!(
        refusals.iter().any(|r| r.to_string().contains("realm")),
        "{error:?}"
    );
    assert_eq!(server.balance(payer.address()).await, U256::from(1_000_000));
    assert!(server.seen().iter().all(|s| !s.paid));

    for policy in [
        SpendingPolicy::new().allow_realm("API.example.com"),
        SpendingPolicy::new().any_realm(),
    ] {
        let provider = server.provider(payer.clone()).with_policy(policy);
        let response = server.get("/paid", &provider).await.unwrap();
        assert_eq!(response.status(), 200);
    }
}
