//! `mpp-client serve-session --rpc URL --escrow 0xADDR --payee-key 0xKEY
//! --price N [--deposit N]`: the mpp crate's session server (its
//! `TempoSessionMethod`, v1 channels on the escrow given) on a loopback
//! port. Prints `{"url": "http://127.0.0.1:PORT"}` once listening, then
//! serves until killed. Its realm is `127.0.0.1`, the host it serves.
//!
//! - `GET /paid` answers a session challenge, then serves a credential: a
//!   voucher is charged one price (`deduct_from_channel`, as an app on the
//!   mpp crate does) and answered `served` with a receipt saying what was
//!   spent; an open, top-up or close gets the crate's management answer
//!   (`{"status":"ok"}`) and is not served.
//! - `GET /stream` likewise, but a voucher is answered with the crate's
//!   metered SSE stream (`mpp::server::sse::serve`) of 12 words at one
//!   price each, asking for vouchers in-band as the credit runs out.
//! - `POST` on either route takes management credentials and the vouchers
//!   a stream asks for (not charged: they add credit).

use std::process::ExitCode;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::StreamExt as _;
use mpp::PrivateKeySigner;
use mpp::server::sse::{ServeOptions, serve, sse_headers};
use mpp::server::{
    Mpp, SessionChallengeOptions, SessionChannelStore, SessionMethodConfig, TempoChargeMethod,
    TempoConfig, TempoProvider, TempoSessionMethod, deduct_from_channel, tempo, tempo_provider,
};

use crate::fail;

const PATH_USD: &str = "0x20c0000000000000000000000000000000000000";
const SECRET: &str = "mpp-client serve-session: a secret of 32 bytes or more";

struct Server {
    payment: Mpp<TempoChargeMethod<TempoProvider>, TempoSessionMethod<TempoProvider>>,
    store: Arc<SessionChannelStore>,
    price: String,
    price_units: u128,
    deposit: String,
}

pub(crate) async fn run(mut args: impl Iterator<Item = String>) -> ExitCode {
    let (mut rpc, mut escrow, mut key, mut price, mut deposit) = (None, None, None, None, None);
    while let (Some(flag), Some(value)) = (args.next(), args.next()) {
        match flag.as_str() {
            "--rpc" => rpc = Some(value),
            "--escrow" => escrow = Some(value),
            "--payee-key" => key = Some(value),
            "--price" => price = Some(value),
            "--deposit" => deposit = Some(value),
            _ => return fail(format!("unknown flag {flag}")),
        }
    }
    let (Some(rpc), Some(escrow), Some(key), Some(price)) = (rpc, escrow, key, price) else {
        return fail(
            "usage: serve-session --rpc URL --escrow 0xADDR --payee-key 0xKEY --price N".into(),
        );
    };
    let payee: PrivateKeySigner = match key.parse() {
        Ok(payee) => payee,
        Err(e) => return fail(format!("bad payee key: {e}")),
    };
    let Ok(price_units) = price.parse::<u128>() else {
        return fail(format!("bad price {price}"));
    };
    let Ok(escrow) = escrow.parse() else {
        return fail(format!("bad escrow address {escrow}"));
    };
    let provider = match tempo_provider(&rpc) {
        Ok(provider) => provider,
        Err(e) => return fail(format!("no provider: {e}")),
    };
    // Bound first: the realm is the host served, as a client expects.
    let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
        Ok(listener) => listener,
        Err(e) => return fail(format!("cannot listen: {e}")),
    };
    let chain_id = 1337;
    let store = Arc::new(SessionChannelStore::new());
    let method = TempoSessionMethod::new(
        provider,
        store.clone(),
        SessionMethodConfig {
            escrow_contract: escrow,
            chain_id,
            min_voucher_delta: 0,
        },
    )
    .with_close_signer(payee.clone());
    let recipient = format!("{:#x}", payee.address());
    let payment = match Mpp::create(
        tempo(TempoConfig {
            recipient: &recipient,
        })
        .rpc_url(&rpc)
        .realm("127.0.0.1")
        .chain_id(chain_id)
        .secret_key(SECRET),
    ) {
        Ok(payment) => payment.with_session_method(method),
        Err(e) => return fail(format!("no server: {e}")),
    };
    let server = Arc::new(Server {
        payment,
        store,
        deposit: deposit.unwrap_or_else(|| "1000000".to_owned()),
        price,
        price_units,
    });
    let app = Router::new()
        .route("/paid", get(paid).post(paid))
        .route("/stream", get(stream).post(stream))
        .with_state(server);
    let url = format!(
        "http://{}",
        listener
            .local_addr()
            .map_or_else(|e| e.to_string(), |a| a.to_string())
    );
    println!("{}", serde_json::json!({ "url": url }));
    match axum::serve(listener, app).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(format!("server stopped: {e}")),
    }
}

async fn paid(State(server): State<Arc<Server>>, method: Method, headers: HeaderMap) -> Response {
    answer(&server, &method, &headers, false).await
}

async fn stream(State(server): State<Arc<Server>>, method: Method, headers: HeaderMap) -> Response {
    answer(&server, &method, &headers, true).await
}

/// A challenge without a credential; the credential verified with one:
/// a management action answered, a voucher served (see the module docs).
async fn answer(server: &Server, method: &Method, headers: &HeaderMap, stream: bool) -> Response {
    let credential = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| mpp::parse_authorization(v).ok());
    let Some(credential) = credential else {
        let recipient = server.payment.recipient().unwrap_or_default().to_owned();
        let challenge = server.payment.session_challenge_with_details(
            &server.price,
            PATH_USD,
            &recipient,
            SessionChallengeOptions {
                suggested_deposit: Some(&server.deposit),
                ..Default::default()
            },
        );
        return match challenge.and_then(|c| c.to_header()) {
            Ok(challenge) => (
                StatusCode::PAYMENT_REQUIRED,
                [(header::WWW_AUTHENTICATE, challenge)],
            )
                .into_response(),
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        };
    };
    let mut verified = match server.payment.verify_session(&credential).await {
        Ok(verified) => verified,
        Err(e) => return (StatusCode::PAYMENT_REQUIRED, e.to_string()).into_response(),
    };
    let channel_id = credential
        .payload
        .get("channelId")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned();
    let body = match verified.management_response.take() {
        Some(management) => management.to_string(),
        // A voucher posted on its own adds credit (a stream asked for it).
        None if method == Method::POST => "accepted".to_owned(),
        None if stream => {
            let words = futures_util::stream::iter((0..12).map(|i| format!("word-{i}")));
            let events = serve(ServeOptions {
                store: server.store.clone(),
                channel_id,
                challenge_id: credential.challenge.id.clone(),
                tick_cost: server.price_units,
                generate: words,
                poll_interval_ms: 50,
                min_voucher_delta: 0,
                before_charge: None,
            });
            let mut response =
                Body::from_stream(events.map(Ok::<_, std::convert::Infallible>)).into_response();
            for (name, value) in sse_headers() {
                if name != "Connection" {
                    response
                        .headers_mut()
                        .insert(name, HeaderValue::from_static(value));
                }
            }
            return response;
        }
        None => match deduct_from_channel(&*server.store, &channel_id, server.price_units).await {
            Ok(state) => {
                verified
                    .receipt
                    .extensions
                    .insert("spent".into(), state.spent.to_string().into());
                "served".to_owned()
            }
            Err(e) => return (StatusCode::PAYMENT_REQUIRED, e.to_string()).into_response(),
        },
    };
    let receipt = verified
        .receipt
        .to_header()
        .ok()
        .and_then(|r| HeaderValue::from_str(&r).ok());
    let mut response = body.into_response();
    if let Some(receipt) = receipt {
        response.headers_mut().insert("payment-receipt", receipt);
    }
    response
}
