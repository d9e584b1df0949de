//! The Tempo operations of the harness, each one the library's own code:
//!
//! - `tempo.receipt.verify`: a hash credential and a receipt fixture in,
//!   `{status:"success", reference}` out, through
//!   [`tower_mpp::tempo::check_push_receipt`] (the push verification with
//!   the receipt given instead of fetched).

use serde_json::{Value, json};

use super::{OpResult, server_verify::credential_from_value};

pub(crate) fn receipt_verify(input: &Value) -> OpResult {
    let credential = credential_from_value(input.get("credential").unwrap_or(&Value::Null))?;
    let receipt = input
        .get("receipt")
        .filter(|r| r.is_object())
        .ok_or("input field `receipt` must be an object")?;
    let reference =
        tower_mpp::tempo::check_push_receipt(&credential, receipt).map_err(|e| e.to_string())?;
    Ok(json!({"status": "success", "reference": reference}))
}
