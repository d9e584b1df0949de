//! `mpp-client serve-session --rpc URL --escrow 0xADDR --payee-key 0xKEY
//! --price N [--deposit N]`: the mpp crate's session server (its
//! `TempoSessionMethod`, v1 channels on the escrow given) on a loopback
//! port. Prints `{"url": "http://127.0.0.1:PORT"}` once listening, then
//! serves until killed. `GET /paid` answers a session challenge, then
//! serves a credential (`served`, or the management answer of an open,
//! top-up or close); `POST /paid` takes management credentials.

use std::process::ExitCode;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mpp::PrivateKeySigner;
use mpp::server::{
    Mpp, SessionChallengeOptions, SessionChannelStore, SessionMethodConfig, TempoChargeMethod,
    TempoConfig, TempoProvider, TempoSessionMethod, tempo, tempo_provider,
};

use crate::fail;

const PATH_USD: &str = "0x20c0000000000000000000000000000000000000";
const SECRET: &str = "mpp-client serve-session: a secret of 32 bytes or more";

struct Server {
    payment: Mpp<TempoChargeMethod<TempoProvider>, TempoSessionMethod<TempoProvider>>,
    price: String,
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
    let Ok(escrow) = escrow.parse() else {
        return fail(format!("bad escrow address {escrow}"));
    };
    let provider = match tempo_provider(&rpc) {
        Ok(provider) => provider,
        Err(e) => return fail(format!("no provider: {e}")),
    };
    let chain_id = 1337;
    let method = TempoSessionMethod::new(
        provider,
        Arc::new(SessionChannelStore::new()),
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
        .chain_id(chain_id)
        .secret_key(SECRET),
    ) {
        Ok(payment) => payment.with_session_method(method),
        Err(e) => return fail(format!("no server: {e}")),
    };
    let server = Arc::new(Server {
        payment,
        deposit: deposit.unwrap_or_else(|| "1000000".to_owned()),
        price,
    });
    let app = Router::new()
        .route("/paid", get(paid).post(paid))
        .with_state(server);
    let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
        Ok(listener) => listener,
        Err(e) => return fail(format!("cannot listen: {e}")),
    };
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

/// A challenge without a credential; the credential verified with one:
/// a voucher is served, a management action answered.
async fn paid(State(server): State<Arc<Server>>, headers: HeaderMap) -> Response {
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
    match server.payment.verify_session(&credential).await {
        Ok(verified) => {
            let receipt = verified
                .receipt
                .to_header()
                .ok()
                .and_then(|r| HeaderValue::from_str(&r).ok());
            let body = verified
                .management_response
                .map_or_else(|| "served".to_owned(), |m| m.to_string());
            let mut response = body.into_response();
            if let Some(receipt) = receipt {
                response.headers_mut().insert("payment-receipt", receipt);
            }
            response
        }
        Err(e) => (StatusCode::PAYMENT_REQUIRED, e.to_string()).into_response(),
    }
}
