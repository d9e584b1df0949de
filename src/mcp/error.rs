//! A [`PaymentRejection`] as the JSON-RPC error the transport draft assigns
//! it, or as the tool result that asks for payment.

use rmcp::model::{CallToolResult, ContentBlock, ErrorCode, ErrorData, MetaObject};
use serde_json::{Map, Value, json};

use super::wire::{
    INTERNAL_ERROR, INVALID_PARAMS, PAYMENT_REQUIRED, PAYMENT_REQUIRED_KEY, VERIFICATION_FAILED,
    challenge_to_json,
};
use crate::method::{PaymentRejection, RejectionKind};
use crate::protocol::ProblemType;

/// The JSON-RPC error for `rejection`:
///
/// | rejection | code |
/// | --- | --- |
/// | no credential | `-32042`, `data.challenges` |
/// | a malformed credential | `-32602`, with fresh challenges |
/// | a credential that does not pay | `-32043`, fresh challenges and `failure` |
/// | the method or store unavailable, a misconfiguration | `-32603` |
pub fn rejection_to_error(rejection: &PaymentRejection) -> ErrorData {
    let (code, message) = match rejection.kind() {
        RejectionKind::PaymentRequired => (PAYMENT_REQUIRED, "Payment Required"),
        RejectionKind::Failed(ProblemType::MalformedCredential)
        | RejectionKind::SeveralCredentials
        | RejectionKind::BodyUnreadable
        | RejectionKind::BodyTooLarge => (INVALID_PARAMS, "Invalid params"),
        RejectionKind::Failed(_) => (VERIFICATION_FAILED, "Payment Verification Failed"),
        // `Unavailable`, `Misconfigured`, and any kind added later.
        _ => (INTERNAL_ERROR, "Internal error"),
    };
    ErrorData::new(ErrorCode(code), message, Some(error_data(rejection)))
}

/// `error.data`: the HTTP status, fresh challenges, the problem, and for a
/// failed credential its `failure`.
fn error_data(rejection: &PaymentRejection) -> Value {
    let mut data = Map::new();
    data.insert("httpStatus".into(), rejection.status().as_u16().into());
    if !rejection.challenges().is_empty() {
        let challenges = rejection.challenges().iter().map(challenge_to_json);
        data.insert("challenges".into(), Value::Array(challenges.collect()));
    }
    if let RejectionKind::Failed(problem) = rejection.kind() {
        data.insert(
            "failure".into(),
            json!({"reason": problem.code(), "detail": rejection.detail()}),
        );
    }
    if let Some(after) = rejection.retry_after() {
        data.insert("retryAfter".into(), after.as_secs().max(1).into());
    }
    data.insert("detail".into(), rejection.detail().into());
    let problem = serde_json::from_str(&rejection.problem().to_json()).unwrap_or(Value::Null);
    data.insert("problem".into(), problem);
    Value::Object(data)
}

/// The tool-result form of a rejection that carries challenges: an
/// `isError` result whose `_meta` holds the error's `data` under
/// `org.paymentauth/payment-required`, as mppx's MCP client reads it.
/// `None` for a rejection without challenges (an internal error stays an
/// error).
pub fn rejection_to_tool_result(rejection: &PaymentRejection) -> Option<CallToolResult> {
    if rejection.challenges().is_empty() {
        return None;
    }
    let mut result = CallToolResult::error(vec![ContentBlock::text(rejection.detail().to_owned())]);
    let mut meta = MetaObject::new();
    meta.insert(PAYMENT_REQUIRED_KEY.into(), error_data(rejection));
    result.meta = Some(meta);
    Some(result)
}
