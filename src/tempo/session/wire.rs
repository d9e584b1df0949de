//! The session intent's JSON: the challenge's `request` and the four
//! credential payload actions, with the spec's field names. Amounts are
//! base-10 integer strings (exact `u128`); unknown fields are ignored, as
//! the spec requires (a v2 `descriptor`, say).

use alloy_primitives::{Address, B256, Bytes};
use serde::{Deserialize, Serialize};

/// The `request` of a `tempo` challenge with `intent="session"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SessionRequest {
    /// Price per unit, in base units.
    #[serde(with = "decimal_u128")]
    pub amount: u128,
    /// What a unit is (`"llm_token"`, `"request"`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_type: Option<String>,
    /// The deposit the server suggests, in base units.
    #[serde(
        default,
        with = "decimal_u128::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub suggested_deposit: Option<u128>,
    /// The TIP-20 token.
    pub currency: Address,
    /// The payee.
    pub recipient: Address,
    /// The escrow and channel details.
    pub method_details: SessionDetails,
}

/// `methodDetails` of a session request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SessionDetails {
    /// The escrow contract.
    pub escrow_contract: Address,
    /// A channel the client may resume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<B256>,
    /// The least increase between two vouchers, in base units.
    #[serde(
        default,
        with = "decimal_u128::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub min_voucher_delta: Option<u128>,
    /// The chain (the spec's default is Tempo mainnet, 4217).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain_id: Option<u64>,
    /// `"v1"` (this crate's) or `"v2"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_protocol: Option<String>,
    /// Whether the server pays the fees of the client's open and top-up.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fee_payer: bool,
}

/// A session credential's `payload`, by its `action`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "camelCase")]
#[non_exhaustive]
pub enum SessionPayload {
    /// The channel was opened by `transaction` (for the server to
    /// broadcast), with the first voucher.
    #[serde(rename_all = "camelCase")]
    Open {
        /// `"transaction"`.
        #[serde(rename = "type")]
        kind: String,
        /// The channel.
        channel_id: B256,
        /// The signed Tempo transaction (`0x76`), hex.
        transaction: String,
        /// Who signs vouchers, when not the payer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        authorized_signer: Option<Address>,
        /// The first voucher's amount (usually 0).
        #[serde(with = "decimal_u128")]
        cumulative_amount: u128,
        /// The first voucher's signature.
        signature: Bytes,
    },
    /// More deposit, by `transaction`.
    #[serde(rename_all = "camelCase")]
    TopUp {
        /// `"transaction"`.
        #[serde(rename = "type")]
        kind: String,
        /// The channel.
        channel_id: B256,
        /// The signed Tempo transaction (`0x76`), hex.
        transaction: String,
        /// What it adds, in base units.
        #[serde(with = "decimal_u128")]
        additional_deposit: u128,
    },
    /// A higher cumulative voucher.
    #[serde(rename_all = "camelCase")]
    Voucher {
        /// The channel.
        channel_id: B256,
        /// Everything authorized so far, in base units.
        #[serde(with = "decimal_u128")]
        cumulative_amount: u128,
        /// Its EIP-712 signature.
        signature: Bytes,
    },
    /// Close the channel with this final voucher.
    #[serde(rename_all = "camelCase")]
    Close {
        /// The channel.
        channel_id: B256,
        /// The final cumulative amount.
        #[serde(with = "decimal_u128")]
        cumulative_amount: u128,
        /// Its EIP-712 signature.
        signature: Bytes,
    },
}

impl SessionPayload {
    /// The channel the payload is about.
    pub fn channel_id(&self) -> B256 {
        match self {
            Self::Open { channel_id, .. }
            | Self::TopUp { channel_id, .. }
            | Self::Voucher { channel_id, .. }
            | Self::Close { channel_id, .. } => *channel_id,
        }
    }
}

/// Amounts are canonical base-10 integer strings: no sign, point, exponent,
/// whitespace or leading zero.
pub(crate) mod decimal_u128 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    // serde's `with` hands the field by reference.
    #[allow(clippy::trivially_copy_pass_by_ref)]
    pub(crate) fn serialize<S: Serializer>(value: &u128, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<u128, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        parse(&text).ok_or_else(|| D::Error::custom("an amount is a base-10 integer string"))
    }

    fn parse(text: &str) -> Option<u128> {
        let canonical = !text.is_empty()
            && text.bytes().all(|b| b.is_ascii_digit())
            && (text.len() == 1 || !text.starts_with('0'));
        canonical.then(|| text.parse().ok()).flatten()
    }

    pub(super) mod option {
        use serde::{Deserialize, Deserializer, Serializer, de::Error};

        // serde's `with` hands the field by reference.
        #[allow(clippy::ref_option)]
        pub(in super::super) fn serialize<S: Serializer>(
            value: &Option<u128>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match value {
                Some(value) => serializer.collect_str(value),
                None => serializer.serialize_none(),
            }
        }

        pub(in super::super) fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<u128>, D::Error> {
            let Some(text) = <Option<std::borrow::Cow<'de, str>>>::deserialize(deserializer)?
            else {
                return Ok(None);
            };
            super::parse(&text)
                .map(Some)
                .ok_or_else(|| D::Error::custom("an amount is a base-10 integer string"))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const CHANNEL: &str = "0x6d0f4fdf1f2f6a1f6c1b0fbd6a7d5c2c0a8d3d7b1f6a9c1b3e2d4a5b6c7d8e9f";

    #[test]
    fn the_specs_payloads_are_read_and_unknown_fields_ignored() {
        let voucher: SessionPayload = serde_json::from_value(json!({
            "action": "voucher", "channelId": CHANNEL, "cumulativeAmount": "250000",
            "signature": "0xabcdef", "descriptor": {"payer": "0x11"}
        }))
        .unwrap();
        assert_eq!(
            voucher,
            SessionPayload::Voucher {
                channel_id: CHANNEL.parse().unwrap(),
                cumulative_amount: 250_000,
                signature: Bytes::from_static(&[0xab, 0xcd, 0xef]),
            }
        );
        let open: SessionPayload = serde_json::from_value(json!({
            "action": "open", "type": "transaction", "channelId": CHANNEL,
            "transaction": "0x76f9", "cumulativeAmount": "0", "signature": "0x01"
        }))
        .unwrap();
        assert_eq!(open.channel_id(), CHANNEL.parse::<B256>().unwrap());
        let top_up: SessionPayload = serde_json::from_value(json!({
            "action": "topUp", "type": "transaction", "channelId": CHANNEL,
            "transaction": "0x76f9", "additionalDeposit": "5000000"
        }))
        .unwrap();
        assert!(matches!(
            top_up,
            SessionPayload::TopUp {
                additional_deposit: 5_000_000,
                ..
            }
        ));
        // Written back with the spec's names.
        let written = serde_json::to_value(&voucher).unwrap();
        assert_eq!(written["action"], "voucher");
        assert_eq!(written["cumulativeAmount"], "250000");
    }

    #[test]
    fn amounts_are_exact_integer_strings() {
        for bad in [
            json!("1.5"),
            json!("-1"),
            json!("01"),
            json!(" 1"),
            json!("1e6"),
            json!(250_000),
            json!("340282366920938463463374607431768211456"),
        ] {
            let payload = json!({"action": "close", "channelId": CHANNEL,
                                 "cumulativeAmount": bad, "signature": "0x01"});
            assert!(
                serde_json::from_value::<SessionPayload>(payload).is_err(),
                "{bad}"
            );
        }
        let max = json!({"action": "close", "channelId": CHANNEL,
                         "cumulativeAmount": u128::MAX.to_string(), "signature": "0x01"});
        assert!(serde_json::from_value::<SessionPayload>(max).is_ok());
        for action in ["settle", "Voucher", ""] {
            let payload = json!({"action": action, "channelId": CHANNEL,
                                 "cumulativeAmount": "1", "signature": "0x01"});
            assert!(serde_json::from_value::<SessionPayload>(payload).is_err());
        }
    }

    #[test]
    fn the_request_round_trips_with_optional_fields_left_out() {
        let request: SessionRequest = serde_json::from_value(json!({
            "amount": "25", "unitType": "llm_token", "suggestedDeposit": "10000000",
            "currency": "0x20c0000000000000000000000000000000000000",
            "recipient": "0x742d35Cc6634C0532925a3b844Bc9e7595f8fE00",
            "methodDetails": {"escrowContract": "0x33b901018174DDabE4841042ab76ba85D4e24f25",
                              "chainId": 4217, "minVoucherDelta": "1000"}
        }))
        .unwrap();
        assert_eq!(request.amount, 25);
        assert_eq!(request.suggested_deposit, Some(10_000_000));
        assert_eq!(request.method_details.min_voucher_delta, Some(1_000));
        assert_eq!(request.method_details.channel_id, None);
        let written = serde_json::to_value(&request).unwrap();
        assert_eq!(written["suggestedDeposit"], "10000000");
        assert!(written["methodDetails"].get("channelId").is_none());
        assert!(written["methodDetails"].get("feePayer").is_none());
        assert_eq!(
            serde_json::from_value::<SessionRequest>(written).unwrap(),
            request
        );
    }
}
