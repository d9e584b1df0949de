//! What the Tempo examples share: their configuration from the environment
//! and how they listen.
//!
//! - `ADDR`: where to listen (default `127.0.0.1:3000`);
//! - `MPP_SECRET_KEY` (required), `MPP_REALM` (default: the host of `ADDR`);
//! - `TEMPO_RECIPIENT` (required), `TEMPO_RPC_URL`, `TEMPO_CHAIN_ID`
//!   (default: asked of the node), `TEMPO_CURRENCY`, `TEMPO_FEE_PAYER_KEY`:
//!   see `TempoChargeBuilder::from_env`.

// Each example takes what it needs.
#![allow(dead_code)]

mod serve;

#[allow(unused_imports)]
pub(crate) use serve::{Timeouts, serve, serve_with};

use std::error::Error;
use std::io::Write as _;
use std::process::ExitCode;

use tokio::net::TcpListener;
use tower_mpp::method::{Payments, PaymentsBuilder};
use tower_mpp::tempo::{TempoChargeBuilder, TempoConfigError};

/// The address to listen on.
pub(crate) fn addr() -> String {
    std::env::var("ADDR")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "127.0.0.1:3000".to_owned())
}

/// A registry for `tempo` (a builder, usually `.from_env()`), with the
/// realm from the environment (default: the host of `addr`) and the secret
/// from `MPP_SECRET_KEY`.
pub(crate) async fn payments(
    addr: &str,
    tempo: TempoChargeBuilder,
) -> Result<PaymentsBuilder, Box<dyn Error>> {
    let tempo = tempo.connect().await.map_err(|e| match e {
        TempoConfigError::MissingRecipient => {
            "TEMPO_RECIPIENT is not set; set it to the address that receives payments".to_owned()
        }
        other => format!("Tempo: {other}"),
    })?;
    eprintln!(
        "tempo: chain {}, currency {}, recipient {}, fee payer {}",
        tempo.chain_id(),
        tempo.currency(),
        tempo.recipient(),
        tempo
            .fee_payer()
            .map_or_else(|| "none".to_owned(), |a| a.to_string()),
    );
    let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host);
    Ok(Payments::builder()
        .realm_from_env(host)
        .secret_from_env()
        .method(tempo))
}

/// Binds `addr` and says where it listens, on one flushed line that
/// scripts wait for.
pub(crate) async fn listen(addr: &str) -> Result<TcpListener, Box<dyn Error>> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    println!("listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    Ok(listener)
}

/// The exit code of an example's run: errors are one line on stderr.
pub(crate) fn exit(result: Result<(), Box<dyn Error>>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
