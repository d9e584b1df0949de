//! `http.payment_request`: the adapter as a paying client, through
//! [`PaymentExt::send_with_payment`], with a provider that answers each
//! challenge with the harness's payload.
//!
//! Input `{url, method, headers, body, payment: {payload, source}, mode}`;
//! output `{status, headers, body}` of the final response. A credential the
//! server refused comes back from the client as
//! [`ClientError::Rejected`]; it is reported as that response (its status,
//! and its problem details as an `application/problem+json` body). Any
//! other client error (a cross-origin `402`, a request that failed) is an
//! `http_error`.
//!
//! The modes are the harness's stimuli, applied to the credential the
//! provider hands back: `plain` sends without payment handling,
//! `mismatched_request` and `invalid_challenge_id` alter the echoed
//! challenge, `invalid_payload` is `payment` with the harness's (invalid)
//! payload.

use serde_json::{Map, Value, json};
use tower_mpp::client::{ClientError, PayError, PaymentExt, PaymentProvider};
use tower_mpp::protocol::{Base64Json, Challenge, Credential, PROBLEM_JSON};

use super::{OpResult, optional, string};

/// Pays every challenge with one fixed payload.
struct FixedPayload {
    payload: Map<String, Value>,
    source: Option<String>,
    mode: String,
}

impl PaymentProvider for FixedPayload {
    fn supports(&self, _method: &str, _intent: &str) -> bool {
        true
    }

    /// The harness's compliance servers name realms of their own (not the
    /// host they listen on); the harness, not a user, chose the server.
    fn accepts_realm(&self, _realm: &str, _host: &str) -> bool {
        true
    }

    async fn pay(&self, challenge: &Challenge) -> Result<Credential, PayError> {
        let mut echo = challenge.clone();
        match self.mode.as_str() {
            "mismatched_request" => {
                let mut request = echo.request.object().clone();
                request.insert("amount".into(), "1".into());
                echo.request = Base64Json::from_object(request)
                    .map_err(|e| PayError::failed(e.to_string()))?;
            }
            "invalid_challenge_id" => echo.id = format!("{}-tampered", echo.id),
            _ => {}
        }
        let mut credential = Credential::new(echo, self.payload.clone());
        credential.source.clone_from(&self.source);
        Ok(credential)
    }
}

pub(crate) fn payment_request(input: &Value) -> OpResult {
    let url = string(input, "url")?;
    let method = reqwest::Method::from_bytes(string(input, "method")?.as_bytes())
        .map_err(|e| format!("method: {e}"))?;
    let mode = optional(input, "mode")?.unwrap_or("payment").to_owned();
    let payment = input.get("payment").unwrap_or(&Value::Null);
    let payload = match payment.get("payload") {
        Some(Value::Object(payload)) => payload.clone(),
        None | Some(Value::Null) => Map::new(),
        Some(_) => return Err("`payment.payload` must be an object".into()),
    };
    let provider = FixedPayload {
        payload,
        source: optional(payment, "source")?.map(str::to_owned),
        mode: mode.clone(),
    };
    let client = reqwest::Client::new();
    let mut builder = client.request(method, url);
    if let Some(Value::Object(headers)) = input.get("headers") {
        for (name, value) in headers {
            let value = value.as_str().ok_or("header values must be strings")?;
            builder = builder.header(name.as_str(), value);
        }
    }
    if let Some(body) = optional(input, "body")? {
        builder = builder.body(body.to_owned());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let sent = if mode == "plain" {
            builder
                .send()
                .await
                .map_err(|e| ClientError::Http(Box::new(e)))
        } else {
            builder.send_with_payment(&provider).await
        };
        match sent {
            Ok(response) => {
                let status = response.status().as_u16();
                let mut headers = Map::new();
                for (name, value) in response.headers() {
                    let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                    match headers.get_mut(name.as_str()) {
                        Some(Value::String(joined)) => {
                            joined.push_str(", ");
                            joined.push_str(&value);
                        }
                        _ => {
                            headers.insert(name.as_str().to_owned(), value.into());
                        }
                    }
                }
                let body = response.text().await.map_err(|e| e.to_string())?;
                Ok(json!({"status": status, "headers": headers, "body": body}))
            }
            Err(ClientError::Rejected { status, problem }) => {
                let (headers, body) = match problem {
                    Some(problem) => (json!({"content-type": PROBLEM_JSON}), problem.to_json()),
                    None => (json!({}), String::new()),
                };
                Ok(json!({"status": status.as_u16(), "headers": headers, "body": body}))
            }
            Err(other) => Err(other.to_string()),
        }
    })
}
