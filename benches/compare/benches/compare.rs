//! tower-mpp (`ours`) against the `mpp` crate 0.18 (`mpp`), in one process
//! and run, on the same inputs. Each group times one step of serving MPP:
//!
//! - `parse_3_challenges`: one `WWW-Authenticate` value holding three
//!   Tempo challenges (as our registry issues them: id, realm, method,
//!   intent, request, expires, opaque) parsed into challenge structs
//!   (`parse_challenges` / `parse_www_authenticate_all`).
//! - `format_challenge`: one such challenge written as a header value
//!   (`Challenge::to_header` / `format_www_authenticate`).
//! - `challenge_id`: the HMAC-SHA256 id of that challenge. Both sides bind
//!   the same fields in the same order; the setup asserts they compute the
//!   same id (`SecretRing::sign` / `compute_challenge_id`).
//! - `binding`: an `Authorization: Payment` proof credential decoded and
//!   its challenge id checked (`Credential::parse` + `SecretRing::verify` /
//!   `parse_authorization` + `compute_challenge_id_with_header` and a
//!   comparison; `mpp`'s constant-time comparison is private).
//! - `issue_402_two_offers`: the 402 response for a price offered in two
//!   currencies: two fresh signed challenges, two `WWW-Authenticate`
//!   lines, an RFC 9457 body (`Payments::payment_required` into a response /
//!   `PaymentOffers(mpp.charge(..))` into a response).
//! - `oneshot_402`: a `GET` without credential through the whole axum
//!   router (`lib.rs`: every route of both sides in one router) to each
//!   side's tower layer and axum extractor; for scale, `bare` (the same
//!   handler with no payments) and `bare_402` (a canned copy of one of our
//!   402 responses, returned with no payment code).
//! - `oneshot_proof`: a paid `GET` to the zero-price routes with a fresh
//!   EIP-712 proof credential (signed outside the timed part): the full
//!   verification, the signature recovery, the single-use claim in each
//!   side's in-memory store, the handler and the receipt header.
//!   `ecrecover` and `ecrecover_libsecp256k1` are the floors: the one
//!   secp256k1 recovery and the EIP-712 hash that any verifier of the
//!   proof must do, with k256 (alloy's `recover_address_from_prehash`,
//!   as `mpp` does it) and with libsecp256k1 (the `secp256k1` crate, as
//!   tower-mpp does it).
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use alloy_primitives::{Address, Signature};
use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::response::IntoResponse as _;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use mpp::server::axum::PaymentOffers;
use tower::ServiceExt as _;
use tower_mpp::binding::{BindingInput, SecretKey, SecretRing};
use tower_mpp::method::{ChargeContext, Price};
use tower_mpp::protocol::{Challenge, Credential, parse_challenges};
use tower_mpp::tempo::proof_signing_hash;
use tower_mpp_compare::{
    CHAIN_ID, Ours, Payer, SECRET, Theirs, app, ours_two_offers, proof_credential, spawn_rpc_stub,
    theirs_two_offers,
};

fn wire(c: &mut Criterion) {
    let ours = Ours::default();
    let ctx = ChargeContext {
        scope: "GET /ours/axum/paid",
        ..ChargeContext::default()
    };
    let challenges: Vec<Challenge> = (0..3)
        .map(|_| {
            ours.payments()
                .challenges(&Price::base_units(10_000), &ctx)
                .unwrap()
                .remove(0)
        })
        .collect();
    let lines: Vec<String> = challenges.iter().map(|c| c.to_header().unwrap()).collect();
    let header = lines.join(", ");
    assert_eq!(parse_challenges([header.as_str()]).unwrap().len(), 3);
    assert!(
        mpp::parse_www_authenticate_all([header.as_str()])
            .iter()
            .filter(|c| c.is_ok())
            .count()
            == 3
    );

    let mut group = c.benchmark_group("parse_3_challenges");
    group.bench_function("ours", |b| {
        b.iter(|| parse_challenges([black_box(header.as_str())]).unwrap());
    });
    group.bench_function("mpp", |b| {
        b.iter(|| mpp::parse_www_authenticate_all([black_box(header.as_str())]));
    });
    group.finish();

    let ours_challenge = &challenges[0];
    let theirs_challenge = mpp::parse_www_authenticate(&lines[0]).unwrap();
    let mut group = c.benchmark_group("format_challenge");
    group.bench_function("ours", |b| {
        b.iter(|| black_box(ours_challenge).to_header().unwrap());
    });
    group.bench_function("mpp", |b| {
        b.iter(|| mpp::format_www_authenticate(black_box(&theirs_challenge)).unwrap());
    });
    group.finish();

    let ring = SecretRing::new(SecretKey::new(SECRET).unwrap());
    let theirs_id = |ch: &mpp::PaymentChallenge| {
        mpp::compute_challenge_id(
            SECRET,
            &ch.realm,
            ch.method.as_str(),
            ch.intent.as_str(),
            ch.request.raw(),
            ch.expires.as_deref(),
            ch.digest.as_deref(),
            ch.opaque.as_ref().map(mpp::Base64UrlJson::raw),
        )
    };
    assert_eq!(theirs_id(&theirs_challenge), ours_challenge.id);
    let mut group = c.benchmark_group("challenge_id");
    group.bench_function("ours", |b| {
        b.iter(|| ring.sign(&BindingInput::from_challenge(black_box(ours_challenge))));
    });
    group.bench_function("mpp", |b| {
        b.iter(|| theirs_id(black_box(&theirs_challenge)));
    });
    group.finish();

    let credential = ours.proof_credential(&Payer::default(), "/ours/axum/proof");
    let mut group = c.benchmark_group("binding");
    group.bench_function("ours", |b| {
        b.iter(|| {
            let credential = Credential::parse(black_box(&credential)).unwrap();
            let echo = &credential.challenge;
            assert!(ring.verify(&echo.id, &BindingInput::from_challenge(echo)));
        });
    });
    group.bench_function("mpp", |b| {
        b.iter(|| {
            let credential = mpp::parse_authorization(black_box(&credential)).unwrap();
            let echo = &credential.challenge;
            let expected = mpp::compute_challenge_id_with_header(
                SECRET,
                &echo.realm,
                echo.method.as_str(),
                echo.intent.as_str(),
                echo.request.raw(),
                echo.expires.as_deref(),
                echo.digest.as_deref(),
                echo.opaque.as_ref().map(mpp::Base64UrlJson::raw),
                echo.header.as_deref(),
            );
            assert!(expected == echo.id);
        });
    });
    group.finish();
}

fn issue(c: &mut Criterion) {
    let (ours, price) = ours_two_offers();
    let (theirs, amount) = theirs_two_offers("http://127.0.0.1:9");
    let ctx = ChargeContext {
        scope: "GET /ours/axum/paid",
        ..ChargeContext::default()
    };
    let ours_402 = || ours.payment_required(&price, &ctx).into_response();
    let theirs_402 = || PaymentOffers(theirs.charge(amount).unwrap()).into_response();
    for response in [ours_402(), theirs_402()] {
        assert_eq!(response.status(), 402);
        assert_eq!(
            response
                .headers()
                .get_all("www-authenticate")
                .iter()
                .count(),
            2
        );
    }
    let mut group = c.benchmark_group("issue_402_two_offers");
    group.bench_function("ours", |b| b.iter(ours_402));
    group.bench_function("mpp", |b| b.iter(theirs_402));
    group.finish();
}

fn get(path: &str, authorization: Option<String>) -> Request<Body> {
    let mut request = Request::get(path);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    request.body(Body::empty()).unwrap()
}

async fn status(app: &Router, request: Request<Body>) -> u16 {
    app.clone()
        .oneshot(request)
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn oneshot(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (ours, theirs, payer) = (
        Ours::default(),
        Theirs::new(&spawn_rpc_stub()),
        Payer::default(),
    );
    let app = app(&ours, &theirs);

    let mut group = c.benchmark_group("oneshot_402");
    for (name, path, expected) in [
        ("bare", "/bare", 200),
        ("bare_402", "/bare/402", 402),
        ("ours_layer", "/ours/layer/paid", 402),
        ("ours_axum", "/ours/axum/paid", 402),
        ("mpp_layer", "/mpp/layer/paid", 402),
        ("mpp_axum", "/mpp/axum/paid", 402),
    ] {
        group.bench_function(name, |b| {
            b.to_async(&runtime)
                .iter(|| async { assert_eq!(status(&app, get(path, None)).await, expected) });
        });
    }
    group.finish();

    let mut group = c.benchmark_group("oneshot_proof");
    for (name, path) in [
        ("ours_layer", "/ours/layer/proof"),
        ("ours_axum", "/ours/axum/proof"),
        ("mpp_layer", "/mpp/layer/proof"),
        ("mpp_axum", "/mpp/axum/proof"),
    ] {
        let credential = || proof_credential(&ours, &theirs, &payer, path);
        // Also makes `mpp` ask the stub for the chain id, outside the timing.
        let first = runtime.block_on(status(&app, get(path, credential())));
        assert_eq!(first, 200, "{path}");
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter_batched(
                credential,
                |auth| async { assert_eq!(status(&app, get(path, auth)).await, 200) },
                BatchSize::SmallInput,
            );
        });
    }
    let challenge_id = "an id of 43 characters, as HMAC ids have...";
    let hash = proof_signing_hash(CHAIN_ID, payer.address(), challenge_id, "bench.example.com");
    let signature: Signature = payer
        .sign_proof(challenge_id, "bench.example.com")
        .parse()
        .unwrap();
    group.bench_function("ecrecover", |b| {
        b.iter(|| {
            let hash = proof_signing_hash(
                CHAIN_ID,
                payer.address(),
                black_box(challenge_id),
                "bench.example.com",
            );
            signature.recover_address_from_prehash(&hash).unwrap()
        });
    });
    assert_eq!(
        signature.recover_address_from_prehash(&hash).unwrap(),
        payer.address()
    );
    let secp = secp256k1::Secp256k1::verification_only();
    let recoverable = secp256k1::ecdsa::RecoverableSignature::from_compact(
        &signature.as_bytes()[..64],
        secp256k1::ecdsa::RecoveryId::try_from(i32::from(signature.v())).unwrap(),
    )
    .unwrap();
    let libsecp_recover = |hash: [u8; 32]| {
        let key = secp.recover_ecdsa(&secp256k1::Message::from_digest(hash), &recoverable);
        Address::from_raw_public_key(&key.unwrap().serialize_uncompressed()[1..])
    };
    assert_eq!(libsecp_recover(hash.0), payer.address());
    group.bench_function("ecrecover_libsecp256k1", |b| {
        b.iter(|| {
            let hash = proof_signing_hash(
                CHAIN_ID,
                payer.address(),
                black_box(challenge_id),
                "bench.example.com",
            );
            libsecp_recover(hash.0)
        });
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
}

criterion_group! {
    name = compare;
    config = config();
    targets = wire, issue, oneshot
}
criterion_main!(compare);
