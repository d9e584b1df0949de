//! [`PaidServer`]: an rmcp server whose priced tools, resources and prompts
//! are paid through [`Payments`] before the wrapped server serves them.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use rmcp::model::{
    CallToolResponse, CallToolResult, ClientCapabilities, ErrorCode, ErrorData, GetPromptResponse,
    GetPromptResult, JsonObject, MetaObject, ReadResourceResponse, ReadResourceResult,
    ServerCapabilities,
};
use serde_json::{Map, Value, json};

use super::error::{rejection_to_error, rejection_to_tool_result};
use super::prices::{Operation, Priced, PricedCall, Prices};
use super::replay::{Kept, Replay};
use super::wire::{INTERNAL_ERROR, RECEIPT_KEY, credential_from_json, receipt_to_json};
use crate::method::{
    ChargeContext, PaymentFailed, PaymentRejection, Payments, Price, RefundCandidate,
};
use crate::protocol::{AcceptPayment, Credential, ProblemType, Receipt};
use crate::store::ResponseCache;
use std::future::Future;

/// Wraps an rmcp server (any [`ServerHandler`](rmcp::ServerHandler)) and
/// charges for the tools, resources and prompts given a price; everything
/// else reaches it untouched.
///
/// A priced call without a credential is answered `-32042` with one
/// challenge per method of the registry; a credential in
/// `params._meta["org.paymentauth/credential"]` is verified and settled by
/// [`Payments::verify`] (the same checks, claim store and hooks as HTTP),
/// the wrapped server serves the call, and the result gains
/// `_meta["org.paymentauth/receipt"]`. Initialization advertises
/// `capabilities.experimental.payment`.
#[derive(Clone)]
#[must_use]
pub struct PaidServer<S> {
    inner: S,
    config: Arc<Config>,
}

#[derive(Clone)]
struct Config {
    payments: Payments,
    prices: Prices,
    tool_results: bool,
    replay: Option<Replay>,
}

impl<S> PaidServer<S> {
    /// `inner`, with nothing priced yet.
    pub fn new(inner: S, payments: Payments) -> Self {
        Self {
            inner,
            config: Arc::new(Config {
                payments,
                prices: Prices::default(),
                tool_results: false,
                replay: None,
            }),
        }
    }

    fn edit(mut self, change: impl FnOnce(&mut Config)) -> Self {
        change(Arc::make_mut(&mut self.config));
        self
    }

    fn priced(self, operation: Operation, name: impl Into<String>, priced: Priced) -> Self {
        self.edit(|config| config.prices.insert(operation, name.into(), priced))
    }

    /// The tool `name` costs `price` per call.
    pub fn tool(self, name: impl Into<String>, price: Price) -> Self {
        self.priced(Operation::Tool, name, Priced::Fixed(price))
    }

    /// The tool `name` costs what `price` computes from each call.
    pub fn tool_priced_by<F>(self, name: impl Into<String>, price: F) -> Self
    where
        F: Fn(&PricedCall<'_>) -> Price + Send + Sync + 'static,
    {
        self.priced(Operation::Tool, name, Priced::PerCall(Arc::new(price)))
    }

    /// Reading the resource `uri` costs `price`.
    pub fn resource(self, uri: impl Into<String>, price: Price) -> Self {
        self.priced(Operation::Resource, uri, Priced::Fixed(price))
    }

    /// Getting the prompt `name` costs `price`.
    pub fn prompt(self, name: impl Into<String>, price: Price) -> Self {
        self.priced(Operation::Prompt, name, Priced::Fixed(price))
    }

    /// Getting the prompt `name` costs what `price` computes from each call.
    pub fn prompt_priced_by<F>(self, name: impl Into<String>, price: F) -> Self
    where
        F: Fn(&PricedCall<'_>) -> Price + Send + Sync + 'static,
    {
        self.priced(Operation::Prompt, name, Priced::PerCall(Arc::new(price)))
    }

    /// Also answers an unpaid or refused *tool call* in the tool-result
    /// form: an `isError` result whose
    /// `_meta["org.paymentauth/payment-required"]` holds the error's data.
    /// For clients whose MCP SDK hands errors to the model as text (mppx's
    /// client reads both forms; pympp's reads only the error). Resources
    /// and prompts keep the error form.
    pub fn tool_result_challenges(self, enabled: bool) -> Self {
        self.edit(|config| config.tool_results = enabled)
    }

    /// Keeps each paid result in `cache` for an hour: a retry with the same
    /// credential gets it again, the handler not run and nothing paid
    /// twice (MCP has no idempotency key: the credential, single-use for a
    /// charge, is the key).
    pub fn idempotent(self, cache: impl ResponseCache) -> Self {
        self.edit(|config| config.replay = Some(Replay::new(Arc::new(cache))))
    }

    /// How long [`idempotent`](Self::idempotent) keeps a result.
    pub fn idempotent_ttl(self, ttl: Duration) -> Self {
        self.edit(|config| {
            if let Some(replay) = &mut config.replay {
                replay.ttl = ttl;
            }
        })
    }

    /// The wrapped server.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S> fmt::Debug for PaidServer<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaidServer")
            .field("payments", &self.config.payments)
            .field("prices", &self.config.prices)
            .field("tool_result_challenges", &self.config.tool_results)
            .finish_non_exhaustive()
    }
}

/// The scope a challenge is bound to: `tools/call <name>`,
/// `resources/read <uri>` or `prompts/get <name>`, so that a challenge for
/// one operation cannot pay for another.
fn scope(operation: Operation, name: &str) -> String {
    format!("{} {name}", operation.method())
}

/// A response a priced call can give: what the server needs to attach a
/// receipt to it, refuse it, and keep it for retries. Each is an rmcp
/// response whose `Complete` variant holds the result.
pub(super) trait PaidResponse: Sized {
    /// The completed result.
    type Result: serde::Serialize + serde::de::DeserializeOwned;

    /// The completed result, if the response is one (not a request for
    /// more input).
    fn result(&self) -> Option<&Self::Result>;

    /// The same, to change.
    fn result_mut(&mut self) -> Option<&mut Self::Result>;

    /// The response completed with `result`.
    fn from_result(result: Self::Result) -> Self;

    /// The result's `_meta`.
    fn meta(result: &mut Self::Result) -> &mut Option<MetaObject>;

    /// Whether `result` is a success (a tool's `isError` result is not).
    fn succeeded(result: &Self::Result) -> bool {
        let _ = result;
        true
    }

    /// The tool-result form of a refusal, for tools.
    fn refusal_result(rejection: &PaymentRejection) -> Option<Self> {
        let _ = rejection;
        None
    }

    /// Puts the receipt in a successful result's `_meta`; `false` for a
    /// response that is not one.
    fn attach_receipt(&mut self, receipt: Value) -> bool {
        match self.result_mut() {
            Some(result) if Self::succeeded(result) => {
                Self::meta(result)
                    .get_or_insert_with(MetaObject::new)
                    .insert(RECEIPT_KEY.into(), receipt);
                true
            }
            _ => false,
        }
    }

    /// The completed result as JSON, to keep.
    fn to_kept(&self) -> Option<Vec<u8>> {
        serde_json::to_vec(self.result()?).ok()
    }

    /// A kept result.
    fn from_kept(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok().map(Self::from_result)
    }
}

/// The accessors of an rmcp response whose `Complete` variant holds
/// `$result`.
macro_rules! completes_with {
    ($result:ty) => {
        type Result = $result;

        fn result(&self) -> Option<&$result> {
            match self {
                Self::Complete(result) => Some(result),
                _ => None,
            }
        }

        fn result_mut(&mut self) -> Option<&mut $result> {
            match self {
                Self::Complete(result) => Some(result),
                _ => None,
            }
        }

        fn from_result(result: $result) -> Self {
            Self::Complete(result)
        }

        fn meta(result: &mut $result) -> &mut Option<MetaObject> {
            &mut result.meta
        }
    };
}

impl PaidResponse for CallToolResponse {
    completes_with!(CallToolResult);

    fn succeeded(result: &CallToolResult) -> bool {
        result.is_error != Some(true)
    }

    fn refusal_result(rejection: &PaymentRejection) -> Option<Self> {
        rejection_to_tool_result(rejection).map(Self::Complete)
    }
}

impl PaidResponse for ReadResourceResponse {
    completes_with!(ReadResourceResult);
}

impl PaidResponse for GetPromptResponse {
    completes_with!(GetPromptResult);
}

/// A call the server may charge for.
pub(super) struct Call<'a> {
    pub(super) operation: Operation,
    pub(super) name: &'a str,
    pub(super) arguments: Option<&'a JsonObject>,
}

impl<H> PaidServer<H> {
    /// `capabilities.experimental.payment`: every method of the registry
    /// with its intents.
    pub(super) fn advertise(&self, capabilities: &mut ServerCapabilities) {
        let mut methods = Map::new();
        for method in &self.config.payments.inner.methods {
            let entry = methods
                .entry(method.name().to_owned())
                .or_insert_with(|| json!({"intents": []}));
            if let Some(Value::Array(intents)) = entry.get_mut("intents") {
                intents.push(method.intent().into());
            }
        }
        let mut payment = JsonObject::new();
        payment.insert("methods".into(), Value::Object(methods));
        capabilities
            .experimental
            .get_or_insert_with(Default::default)
            .insert("payment".into(), payment);
    }

    /// The price of `call`, when it has one.
    pub(super) fn price_of(&self, call: &Call<'_>) -> Option<Price> {
        let priced = self.config.prices.get(call.operation, call.name)?;
        let empty = Map::new();
        Some(priced.price(&PricedCall {
            name: call.name,
            arguments: call.arguments.unwrap_or(&empty),
        }))
    }

    /// A priced call: refused without a credential that pays, else served
    /// by `serve` (or answered from the replay cache) with its receipt.
    /// `accept`: the methods the client declared, which order and filter
    /// the challenges as `Accept-Payment` does on HTTP.
    pub(super) async fn paid<R: PaidResponse>(
        &self,
        call: &Call<'_>,
        price: &Price,
        credential: Option<&Value>,
        accept: Option<&AcceptPayment>,
        serve: impl Future<Output = Result<R, ErrorData>>,
    ) -> Result<R, ErrorData> {
        let payments = &self.config.payments;
        let scope = scope(call.operation, call.name);
        let ctx = ChargeContext {
            scope: &scope,
            digest: None,
            accept,
        };
        let Some(value) = credential else {
            return self.refuse(&payments.payment_required(price, &ctx));
        };
        let credential = match credential_from_json(value) {
            Ok(credential) => credential,
            Err(error) => {
                let detail = format!("The payment credential is malformed: {error}.");
                let rejection =
                    payments.failed(price, &ctx, ProblemType::MalformedCredential, detail);
                payments.inner.hooks.payment_failed(&PaymentFailed {
                    scope: &scope,
                    challenge_id: None,
                    rejection: &rejection,
                });
                return self.refuse(&rejection);
            }
        };
        let replay = self.config.replay.as_ref().filter(|_| {
            // A forged challenge costs no cache I/O.
            payments.issued(&credential.challenge)
        });
        let Some(replay) = replay else {
            return self
                .settle_and_serve(price, &ctx, &credential, serve)
                .await
                .map(|(response, _)| response);
        };
        let key = Replay::key(&scope, value);
        match replay.begin(&key).await {
            Kept::Result(kept) => return kept.decode(),
            Kept::Refused(error) => return Err(error),
            Kept::New => {}
        }
        let outcome = self.settle_and_serve(price, &ctx, &credential, serve).await;
        let kept = match &outcome {
            Ok((response, true)) => response.to_kept(),
            _ => None,
        };
        replay.end(&key, kept).await;
        outcome.map(|(response, _)| response)
    }

    /// Verifies and settles the credential, then serves the call and
    /// attaches the receipt; the response and whether it holds one.
    async fn settle_and_serve<R: PaidResponse>(
        &self,
        price: &Price,
        ctx: &ChargeContext<'_>,
        credential: &Credential,
        serve: impl Future<Output = Result<R, ErrorData>>,
    ) -> Result<(R, bool), ErrorData> {
        let payments = &self.config.payments;
        let receipt = match payments.verify(price, ctx, credential).await {
            Ok(receipt) => receipt,
            Err(rejection) => return self.refuse(&rejection).map(|r| (r, false)),
        };
        let refund = |status| {
            payments.inner.hooks.refund_candidate(&RefundCandidate {
                scope: ctx.scope,
                receipt: &receipt,
                status,
            });
        };
        let mut response = match serve.await {
            Ok(response) => response,
            Err(error) => {
                refund(StatusCode::INTERNAL_SERVER_ERROR);
                return Err(error);
            }
        };
        let receipt_json = receipt_json(payments, &receipt, &credential.challenge.id)?;
        if response.attach_receipt(receipt_json) {
            Ok((response, true))
        } else {
            // A tool that failed, or a response that serves nothing yet:
            // no receipt, and the payment is a refund candidate.
            refund(StatusCode::INTERNAL_SERVER_ERROR);
            Ok((response, false))
        }
    }

    /// A refusal: the error, or for a tool with the tool-result form on,
    /// the result that asks for payment.
    fn refuse<R: PaidResponse>(&self, rejection: &PaymentRejection) -> Result<R, ErrorData> {
        if self.config.tool_results
            && let Some(result) = R::refusal_result(rejection)
        {
            return Ok(result);
        }
        Err(rejection_to_error(rejection))
    }
}

/// What a client declared in `capabilities.experimental.payment.methods`
/// at initialization, as an `Accept-Payment` of `method/intent` ranges
/// (`None` when it declared nothing readable).
pub(super) fn client_accept(client: &ClientCapabilities) -> Option<AcceptPayment> {
    let methods = client
        .experimental
        .as_ref()?
        .get("payment")?
        .get("methods")?
        .as_object()?;
    let mut ranges = Vec::new();
    for (method, entry) in methods {
        let intents = entry.get("intents").and_then(Value::as_array);
        match intents {
            Some(intents) => ranges.extend(
                intents
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|intent| format!("{method}/{intent}")),
            ),
            None => ranges.push(format!("{method}/*")),
        }
    }
    if ranges.is_empty() {
        return None;
    }
    AcceptPayment::parse([ranges.join(", ").as_str()]).ok()
}

fn receipt_json(
    payments: &Payments,
    receipt: &Receipt,
    challenge_id: &str,
) -> Result<Value, ErrorData> {
    receipt_to_json(receipt, challenge_id).map_err(|e| {
        rejection_to_error(
            &payments
                .misconfigured("the receipt cannot be encoded")
                .with_source(e),
        )
    })
}

/// The error of a request whose retry is still being served.
pub(super) fn in_flight() -> ErrorData {
    ErrorData::new(
        ErrorCode(INTERNAL_ERROR),
        "Internal error",
        Some(json!({
            "httpStatus": 409,
            "detail": "A request with this credential is still being served; retry later.",
        })),
    )
}
