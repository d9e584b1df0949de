//! The server core through its public API: `PaymentLayer`, the extractors
//! and the registry, driven with `tower::ServiceExt::oneshot`.

mod common;
mod concurrency;
mod free_work;
mod hostile;
mod scope_and_text;

use std::sync::atomic::Ordering;

use axum::body::Body;
use common::{app, challenge_for, get_req, pay, send, send_auth};
use http::Request;

#[tokio::test]
async fn an_unpaid_request_gets_a_402_with_one_challenge_per_method() {
    let app = app();
    let reply = send(&app.router, get_req("/joke").body(Body::empty()).unwrap()).await;
    reply.assert_rejected(402, "payment-required");
    let challenges = reply.challenges();
    let methods: Vec<_> = challenges.iter().map(|c| c.method.as_str()).collect();
    assert_eq!(
        methods,
        ["invoice", "card", "sepa"],
        "each method in its own default currency"
    );
    for c in &challenges {
        assert_eq!(c.realm, "api.example.com");
        assert_eq!(c.intent, "charge");
        assert_eq!(c.request.object()["amount"], "1");
        assert_eq!(c.description.as_deref(), Some("A joke"));
        assert!(c.expires.is_some());
    }
    assert_eq!(app.runs.load(Ordering::SeqCst), 0);
    assert_eq!(app.calls.load(Ordering::SeqCst), 0);
    assert_eq!(
        app.recorder.events.lock().unwrap().as_slice(),
        ["challenge GET /joke x3"]
    );
}

#[tokio::test]
async fn a_paid_request_is_served_once_with_a_private_receipt_and_the_handler_sees_the_payer() {
    let app = app();
    let challenge = challenge_for(&app.router, "GET", "/joke", "").await;
    let auth = pay(&challenge, "paid");
    let reply = send_auth(&app.router, "/joke", &auth).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let receipt = reply.receipt().expect("a receipt");
    assert_eq!(receipt.method, "invoice");
    assert_eq!(receipt.reference, format!("inv_{}", &challenge.id[..8]));
    assert_eq!(receipt.external_id.as_deref(), Some("joke-1"));
    assert_eq!(receipt.extra["payer"], "acct_9");
    assert_eq!(reply.headers["cache-control"], "private");
    // The handler sees who paid: the credential's source.
    assert_eq!(
        reply.text(),
        format!("joke paid by {} from did:example:payer", receipt.reference)
    );
    assert_eq!(app.runs.load(Ordering::SeqCst), 1);

    // The same credential again: already used.
    let again = send_auth(&app.router, "/joke", &auth).await;
    again.assert_rejected(402, "invalid-challenge");
    assert_eq!(app.runs.load(Ordering::SeqCst), 1);
    let events = app.recorder.events.lock().unwrap().clone();
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("settled GET /joke inv_")),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e == "failed GET /joke 402 Payment Required"),
        "{events:?}"
    );
}

#[tokio::test]
async fn two_clients_in_the_same_second_get_distinct_challenges_and_both_are_served() {
    let app = app();
    let first = challenge_for(&app.router, "GET", "/joke", "").await;
    let second = challenge_for(&app.router, "GET", "/joke", "").await;
    assert_ne!(first.id, second.id);
    for challenge in [&first, &second] {
        let reply = send_auth(&app.router, "/joke", pay(challenge, "paid")).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    assert_eq!(app.runs.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn free_routes_are_untouched_even_with_a_bad_credential() {
    let app = app();
    let reply = send_auth(&app.router, "/free", "Payment !!!").await;
    assert_eq!(reply.status, 200);
    assert!(reply.headers.get("payment-receipt").is_none());
    assert!(reply.headers.get("cache-control").is_none());
}

#[tokio::test]
async fn accept_payment_filters_and_orders_offers() {
    let app = app();
    let ask = |accept: &'static str| {
        get_req("/joke")
            .header("accept-payment", accept)
            .body(Body::empty())
            .unwrap()
    };
    let methods = |reply: &common::Reply| {
        reply
            .challenges()
            .into_iter()
            .map(|c| c.method)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        methods(&send(&app.router, ask("card/charge, invoice/*;q=0.5")).await),
        ["card", "invoice"]
    );
    assert_eq!(
        methods(&send(&app.router, ask("invoice/charge;q=0, */*")).await),
        ["card", "sepa"]
    );
    assert_eq!(
        methods(&send(&app.router, ask("invoice/charge;q=0")).await),
        ["invoice", "card", "sepa"],
        "nothing acceptable: all offers"
    );
    assert_eq!(
        methods(&send(&app.router, ask("lightning/charge")).await),
        ["invoice", "card", "sepa"],
        "unmatched: all offers"
    );
    assert_eq!(
        methods(&send(&app.router, ask("not a range")).await),
        ["invoice", "card", "sepa"],
        "malformed: all offers"
    );
}

#[tokio::test]
async fn a_currency_override_offers_only_the_methods_that_take_it() {
    let app = app();
    let reply = send(&app.router, get_req("/euros").body(Body::empty()).unwrap()).await;
    let methods: Vec<_> = reply.challenges().into_iter().map(|c| c.method).collect();
    assert_eq!(methods, ["sepa"]);
}

#[tokio::test]
async fn option_charge_serves_a_preview_without_a_credential() {
    let app = app();
    let preview = send(
        &app.router,
        get_req("/preview").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(
        (preview.status.as_u16(), preview.text().as_str()),
        (200, "preview")
    );
    assert!(preview.receipt().is_none());

    let challenge = challenge_for(&app.router, "GET", "/joke", "").await;
    let other_route = send_auth(&app.router, "/preview", pay(&challenge, "paid")).await;
    other_route.assert_rejected(402, "invalid-challenge");
}

#[tokio::test]
async fn a_runtime_price_is_charged_from_the_request() {
    let app = app();
    let post = |auth: Option<String>, body: &'static str| {
        let mut req = Request::builder().method("POST").uri("/words");
        if let Some(auth) = auth {
            req = req.header("authorization", auth);
        }
        req.body(Body::from(body)).unwrap()
    };
    let reply = send(&app.router, post(None, "one two three")).await;
    reply.assert_rejected(402, "payment-required");
    let challenge = reply.challenges().remove(0);
    assert_eq!(challenge.request.object()["amount"], "3");
    let paid = send(
        &app.router,
        post(Some(pay(&challenge, "paid")), "one two three"),
    )
    .await;
    assert_eq!(
        (paid.status.as_u16(), paid.text().as_str()),
        (200, "3 words from did:example:payer")
    );
    assert!(paid.receipt().is_some());

    // A challenge for 3 words does not pay for 4.
    let challenge = challenge_for(&app.router, "POST", "/words", "a b c").await;
    let more = send(&app.router, post(Some(pay(&challenge, "paid")), "a b c d")).await;
    more.assert_rejected(402, "invalid-challenge");
}

#[tokio::test]
async fn a_fixed_price_layer_charges_services_without_extractors() {
    let app = app();
    let reply = send(&app.router, get_req("/fixed").body(Body::empty()).unwrap()).await;
    reply.assert_rejected(402, "payment-required");
    assert_eq!(app.runs.load(Ordering::SeqCst), 0);
    let challenge = reply.challenges().remove(0);
    assert_eq!(challenge.request.object()["amount"], "5");
    let paid = send_auth(&app.router, "/fixed", pay(&challenge, "paid")).await;
    assert_eq!(paid.status, 200);
    assert!(paid.receipt().is_some());
    assert_eq!(app.runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_paid_request_whose_handler_fails_gets_no_receipt_and_is_a_refund_candidate() {
    let app = app();
    let challenge = challenge_for(&app.router, "GET", "/failing", "").await;
    let reply = send_auth(&app.router, "/failing", pay(&challenge, "paid")).await;
    assert_eq!(reply.status, 500);
    assert!(reply.headers.get("payment-receipt").is_none());
    let events = app.recorder.events.lock().unwrap().clone();
    assert!(
        events.contains(&"refund GET /failing 500 Internal Server Error".to_owned()),
        "{events:?}"
    );
}

#[tokio::test]
async fn public_caching_becomes_private_on_paid_responses() {
    let app = app();
    let challenge = challenge_for(&app.router, "GET", "/cached", "").await;
    let reply = send_auth(&app.router, "/cached", pay(&challenge, "paid")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.headers["cache-control"], "max-age=60, private");
}

#[tokio::test]
async fn a_body_bound_route_pays_only_for_that_body() {
    let app = app();
    let post = |auth: Option<&str>, body: &'static str| {
        let mut req = Request::builder().method("POST").uri("/bound");
        if let Some(auth) = auth {
            req = req.header("authorization", auth);
        }
        req.body(Body::from(body)).unwrap()
    };
    let reply = send(&app.router, post(None, "pay me")).await;
    reply.assert_rejected(402, "payment-required");
    let challenge = reply.challenges().remove(0);
    assert_eq!(
        challenge.digest.as_deref(),
        Some(tower_mpp::protocol::content_digest(b"pay me").as_str())
    );
    let auth = pay(&challenge, "paid");

    // Same word count, other body: refused.
    let swapped = send(&app.router, post(Some(&auth), "pay us")).await;
    swapped.assert_rejected(402, "verification-failed");
    let paid = send(&app.router, post(Some(&auth), "pay me")).await;
    assert_eq!(paid.status, 200, "{}", paid.text());

    let big = send(
        &app.router,
        post(
            None,
            "x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x",
        ),
    )
    .await;
    big.assert_rejected(413, "about:blank");
}

#[tokio::test]
async fn a_route_without_the_layer_answers_500_with_a_problem() {
    let app = app();
    let reply = send(
        &app.router,
        get_req("/unlayered").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(reply.status, 500);
    assert!(reply.problem().detail.unwrap().contains("PaymentLayer"));
    assert_eq!(app.runs.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_price_no_method_can_express_is_a_500_not_a_broken_402() {
    let app = app();
    let reply = send(
        &app.router,
        get_req("/unpayable").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(reply.status, 500, "{}", reply.text());
    assert!(reply.headers.get("www-authenticate").is_none());
}

#[tokio::test]
async fn infrastructure_trouble_is_a_503_with_retry_after_and_the_proof_stays_usable() {
    let app = app();
    let challenge = challenge_for(&app.router, "GET", "/joke", "").await;
    let reply = send_auth(&app.router, "/joke", pay(&challenge, "unavailable")).await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.headers["retry-after"], "7");
    assert!(reply.headers.get("payment-receipt").is_none());
    assert_eq!(app.runs.load(Ordering::SeqCst), 0);
    // The challenge was not consumed.
    let later = send_auth(&app.router, "/joke", pay(&challenge, "paid")).await;
    assert_eq!(later.status, 200);
}

#[tokio::test]
async fn authentication_in_front_of_payment_keeps_answering_401() {
    use axum::middleware::{self, Next};
    async fn require_token(req: axum::extract::Request, next: Next) -> axum::response::Response {
        if req.headers().get("x-api-key").is_some_and(|v| v == "k") {
            next.run(req).await
        } else {
            axum::response::IntoResponse::into_response(http::StatusCode::UNAUTHORIZED)
        }
    }
    let app = app();
    let router = app.router.clone().layer(middleware::from_fn(require_token));
    let anonymous = send(&router, get_req("/joke").body(Body::empty()).unwrap()).await;
    assert_eq!(anonymous.status, 401);
    assert!(
        anonymous.headers.get("www-authenticate").is_none(),
        "no payment details leak before authentication"
    );
    let authenticated = send(
        &router,
        get_req("/joke")
            .header("x-api-key", "k")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(authenticated.status, 402);
}

#[tokio::test]
async fn rejections_travel_in_the_response_extensions() {
    let app = app();
    let response = tower::ServiceExt::oneshot(
        app.router.clone(),
        get_req("/joke").body(Body::empty()).unwrap(),
    )
    .await
    .unwrap();
    let rejection = response
        .extensions()
        .get::<tower_mpp::method::PaymentRejection>()
        .expect("typed error");
    assert_eq!(
        rejection.kind(),
        tower_mpp::method::RejectionKind::PaymentRequired
    );
}

#[test]
fn public_types_are_send_and_sync() {
    fn traits<T: Send + Sync>() {}
    traits::<tower_mpp::method::Payments>();
    traits::<tower_mpp::layer::PaymentLayer>();
    traits::<tower_mpp::layer::PaymentService<axum::Router>>();
    traits::<tower_mpp::method::PaymentRejection>();
    traits::<tower_mpp::axum::Payment>();
    traits::<tower_mpp::axum::Charge<common::OneCent>>();
    traits::<tower_mpp::store::SharedStore>();
    traits::<tower_mpp::protocol::Credential>();
}
