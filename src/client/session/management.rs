//! Requests a session client makes itself, to the paid URL: top-ups,
//! vouchers a stream asks for, closes (body-less `POST`s with only a
//! credential, answered `204` with a receipt), and the `GET` that fetches
//! a fresh challenge for them.

use http::StatusCode;
use reqwest::Url;
use reqwest::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use serde_json::{Map, Value};

use crate::client::error::{ClientError, PayError};
use crate::client::fetch::{is_secure, read_problem};
use crate::protocol::{Challenge, Credential, Receipt, parse_challenges};

/// A fresh session challenge from `url` (an unpaid `GET`).
pub(super) async fn fresh_challenge(
    http: &reqwest::Client,
    url: &Url,
) -> Result<Challenge, ClientError> {
    let response = http
        .get(url.clone())
        .header("accept-payment", "tempo/session")
        .send()
        .await
        .map_err(ClientError::http)?;
    session_challenge(&response).ok_or_else(|| {
        ClientError::PaymentFailed(PayError::invalid(format!(
            "{url} offers no Tempo session challenge (status {})",
            response.status()
        )))
    })
}

/// The first Tempo session challenge of a response.
fn session_challenge(response: &reqwest::Response) -> Option<Challenge> {
    response
        .headers()
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| parse_challenges([value]).ok())
        .flatten()
        .find(|c| c.method == "tempo" && c.intent == "session")
}

/// Sends `payload` answering `challenge` to `url` as a management request;
/// the receipt. A refusal naming an unknown or expired challenge is retried
/// once with the fresh challenge it carries.
pub(super) async fn send(
    http: &reqwest::Client,
    url: &Url,
    challenge: &Challenge,
    payload: Map<String, Value>,
) -> Result<Receipt, ClientError> {
    if !is_secure(url) {
        return Err(ClientError::InsecureTransport(url.to_string()));
    }
    let mut challenge = challenge.clone();
    for attempt in 0..2 {
        let credential = Credential::new(challenge.clone(), payload.clone());
        let header = credential.to_header().map_err(|e| {
            ClientError::PaymentFailed(PayError::failed(format!(
                "the credential cannot be encoded: {e}"
            )))
        })?;
        let response = http
            .post(url.clone())
            .header(AUTHORIZATION, header)
            .send()
            .await
            .map_err(ClientError::http)?;
        let status = response.status();
        if status.is_success() {
            let receipt = response
                .headers()
                .get("payment-receipt")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| Receipt::parse(v).ok())
                .ok_or_else(|| {
                    ClientError::PaymentFailed(PayError::failed(
                        "the server answered without a readable receipt",
                    ))
                })?;
            return Ok(receipt);
        }
        let fresh = session_challenge(&response);
        let problem = read_problem(response).await?;
        let stale = problem.as_ref().is_some_and(|p| {
            p.problem_type.ends_with("/challenge-not-found")
                || p.problem_type.ends_with("/invalid-challenge")
        });
        match fresh {
            Some(fresh) if stale && attempt == 0 => challenge = fresh,
            _ => {
                return Err(ClientError::Rejected {
                    status,
                    problem: problem.map(Box::new),
                });
            }
        }
    }
    Err(ClientError::Rejected {
        status: StatusCode::PAYMENT_REQUIRED,
        problem: None,
    })
}
