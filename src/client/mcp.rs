//! Paying MCP tool calls (features `client` and `mcp`): an rmcp client's
//! call that is answered `-32042` is paid with a [`PaymentProvider`] (the
//! same providers and [`SpendingPolicy`](super::SpendingPolicy) as HTTP)
//! and sent again with the credential in
//! `params._meta["org.paymentauth/credential"]`.
//!
//! The challenge's realm must name the server (as the host of a URL does
//! on HTTP): an MCP connection has no host, so the caller names the server
//! it meant to reach. A challenge relayed from elsewhere is not paid.
//!
//! ```no_run
//! # #[cfg(feature = "tempo")]
//! # async fn run(peer: rmcp::Peer<rmcp::RoleClient>) -> Result<(), Box<dyn std::error::Error>> {
//! use rmcp::model::CallToolRequestParams;
//! use tower_mpp::client::mcp::McpPayer;
//! use tower_mpp::client::{PrivateKeySigner, SpendingPolicy, TempoProvider, WithPolicy};
//!
//! const PATH_USD: &str = "0x20c0000000000000000000000000000000000000";
//! let signer: PrivateKeySigner = std::env::var("PAYER_KEY")?.parse()?;
//! let provider = TempoProvider::new(signer, "https://rpc.tempo.xyz")?
//!     .with_policy(SpendingPolicy::new().max_per_request(PATH_USD, 100_000));
//! let payer = McpPayer::new(provider, "tools.example.com");
//! let paid = payer.call_tool(&peer, CallToolRequestParams::new("joke")).await?;
//! println!("{:?}, receipt {:?}", paid.result.content, paid.receipt);
//! # Ok(()) }
//! ```

use http::StatusCode;
use rmcp::model::{CallToolRequestParams, CallToolResult, ErrorData, RequestMetaObject};
use rmcp::service::{Peer, RoleClient, ServiceError};
use serde_json::Value;

use super::choose::{self, Asked};
use super::error::{ClientError, PayError};
use super::provider::PaymentProvider;
use crate::mcp::wire::{
    CREDENTIAL_KEY, PAYMENT_REQUIRED, PAYMENT_REQUIRED_KEY, RECEIPT_KEY, VERIFICATION_FAILED,
    challenge_from_json, credential_to_json, receipt_from_json,
};
use crate::protocol::{Credential, ProblemDetails, Receipt};

/// Pays the priced tools of one MCP server.
#[derive(Debug, Clone)]
pub struct McpPayer<P> {
    provider: P,
    server: String,
}

/// A tool result, with the receipt of the payment that bought it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PaidResult {
    /// The tool's result (its `_meta` still holds the receipt's JSON).
    pub result: CallToolResult,
    /// The receipt, when the call was paid.
    pub receipt: Option<Receipt>,
}

impl<P: PaymentProvider> McpPayer<P> {
    /// Pays with `provider` the challenges of the server named `server`
    /// (its host name: a challenge's realm must name it).
    pub fn new(provider: P, server: impl Into<String>) -> Self {
        Self {
            provider,
            server: server.into(),
        }
    }

    /// The provider.
    pub fn provider(&self) -> &P {
        &self.provider
    }

    /// Calls a tool; when the server asks for payment, pays one challenge
    /// and calls again with the credential.
    ///
    /// # Errors
    ///
    /// [`ClientError::Http`] for an MCP failure unrelated to payment (the
    /// rmcp [`ServiceError`] as its source), `NoPayableChallenge` or
    /// `PolicyRefused` when nothing offered may be paid, `PaymentFailed`
    /// when paying failed, `Rejected` (status 402) when the server refused
    /// the credential. A paid retry answered with an error result and no
    /// receipt is returned as it is (`receipt: None`): the provider is not
    /// told it was accepted.
    pub async fn call_tool(
        &self,
        peer: &Peer<RoleClient>,
        params: CallToolRequestParams,
    ) -> Result<PaidResult, ClientError> {
        let challenges = match peer.call_tool(params.clone()).await {
            Ok(result) => match result
                .meta
                .as_ref()
                .and_then(|m| m.get(PAYMENT_REQUIRED_KEY))
            {
                Some(data) => challenges_of(data),
                None => return Ok(PaidResult::unpaid(result)),
            },
            Err(ServiceError::McpError(error)) if asks_payment(&error) => {
                challenges_of(error.data.as_ref().unwrap_or(&Value::Null))
            }
            Err(error) => return Err(ClientError::http(error)),
        };
        let (raw, credential) = self.choose_and_pay(&challenges).await?;
        let mut retry = params;
        let meta = retry.meta.get_or_insert_with(RequestMetaObject::new);
        let json = credential_to_json(&raw, &credential.payload, credential.source.as_deref());
        meta.insert(CREDENTIAL_KEY.into(), json);
        match peer.call_tool(retry).await {
            Ok(result) => {
                if let Some(data) = result
                    .meta
                    .as_ref()
                    .and_then(|m| m.get(PAYMENT_REQUIRED_KEY))
                {
                    return Err(self.refused(&credential, data));
                }
                let receipt = receipt_of(&result, &credential);
                // An error result without a receipt says nothing of the
                // payment: an SDK may have turned the server's refusal
                // into one (the TypeScript MCP SDK does).
                if receipt.is_some() || result.is_error != Some(true) {
                    self.provider.accepted(&credential, receipt.as_ref());
                }
                Ok(PaidResult { result, receipt })
            }
            Err(ServiceError::McpError(error)) if asks_payment(&error) => {
                Err(self.refused(&credential, error.data.as_ref().unwrap_or(&Value::Null)))
            }
            Err(error) => Err(ClientError::http(error)),
        }
    }

    /// The first challenge the provider pays, in the server's order, with
    /// its JSON to echo.
    async fn choose_and_pay(
        &self,
        challenges: &[Value],
    ) -> Result<(Value, Credential), ClientError> {
        let asked = Asked {
            server: &self.server,
            url: None,
            body: None,
        };
        let offers = challenges.iter().map(|raw| match challenge_from_json(raw) {
            Ok(challenge) => Ok((challenge, raw.clone())),
            Err(why) => Err(PayError::invalid(format!("unreadable challenge: {why}"))),
        });
        choose::choose_and_pay(&self.provider, asked, offers).await
    }

    /// The server refused `credential`: the provider learns it, the caller
    /// gets the problem.
    fn refused(&self, credential: &Credential, data: &Value) -> ClientError {
        let problem = data
            .get("problem")
            .and_then(|p| serde_json::from_value::<ProblemDetails>(p.clone()).ok());
        let status = data
            .get("httpStatus")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::PAYMENT_REQUIRED);
        self.provider.refused(credential, status, problem.as_ref());
        ClientError::Rejected {
            status,
            problem: problem.map(Box::new),
        }
    }
}

impl PaidResult {
    fn unpaid(result: CallToolResult) -> Self {
        Self {
            result,
            receipt: None,
        }
    }
}

/// Whether an error asks for payment (`-32042`, or `-32043` with fresh
/// challenges).
fn asks_payment(error: &ErrorData) -> bool {
    matches!(error.code.0, PAYMENT_REQUIRED | VERIFICATION_FAILED)
        && error
            .data
            .as_ref()
            .and_then(|d| d.get("challenges"))
            .is_some_and(Value::is_array)
}

fn challenges_of(data: &Value) -> Vec<Value> {
    data.get("challenges")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// The result's receipt, when it is readable and names the challenge paid.
fn receipt_of(result: &CallToolResult, credential: &Credential) -> Option<Receipt> {
    let value = result.meta.as_ref()?.get(RECEIPT_KEY)?;
    let (receipt, challenge_id) = receipt_from_json(value).ok()?;
    (challenge_id == credential.challenge.id).then_some(receipt)
}
