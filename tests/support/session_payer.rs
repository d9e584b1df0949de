//! What a session client does, for tests: opens a channel with one 0x76
//! transaction (approve, then `open`), tops it up, signs cumulative
//! vouchers and wraps each action in a credential. Every field can be
//! bent, to build the bad credentials the server must refuse.

// Each user takes what it needs.
#![allow(dead_code)]

use alloy::primitives::{Address, B256, Bytes, TxKind, U256, hex};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use serde_json::{Map, Value, json};
use tempo_alloy::contracts::precompiles::ITIP20;
use tempo_alloy::primitives::transaction::{AASigned, Call};
use tower_mpp::protocol::Challenge;
use tower_mpp::tempo::session::{ITempoStreamChannel, channel_id, voucher_signing_hash};

use crate::support::tempo_payer;

/// A payer's channel: who pays, who signs vouchers, where.
#[derive(Clone)]
pub(crate) struct Channel {
    pub(crate) payer: PrivateKeySigner,
    pub(crate) signer: PrivateKeySigner,
    pub(crate) chain_id: u64,
    pub(crate) escrow: Address,
    pub(crate) payee: Address,
    pub(crate) token: Address,
    pub(crate) salt: B256,
    pub(crate) id: B256,
}

impl Channel {
    // The escrow's own names.
    #[allow(clippy::similar_names)]
    /// A channel of `payer` (signing its own vouchers) to `payee` in
    /// `token`, with a random salt.
    pub(crate) fn new(
        payer: PrivateKeySigner,
        chain_id: u64,
        escrow: Address,
        payee: Address,
        token: Address,
    ) -> Self {
        let salt = B256::random();
        let id = channel_id(
            payer.address(),
            payee,
            token,
            salt,
            payer.address(),
            escrow,
            chain_id,
        );
        Self {
            signer: payer.clone(),
            payer,
            chain_id,
            escrow,
            payee,
            token,
            salt,
            id,
        }
    }

    /// The calls of an honest open of `deposit`.
    pub(crate) fn open_calls(&self, deposit: u128) -> Vec<Call> {
        vec![
            approve(self.token, self.escrow, deposit),
            call(
                self.escrow,
                ITempoStreamChannel::openCall {
                    payee: self.payee,
                    token: self.token,
                    deposit,
                    salt: self.salt,
                    authorizedSigner: self.signer.address(),
                }
                .abi_encode(),
            ),
        ]
    }

    /// The calls of an honest top-up of `amount`.
    pub(crate) fn top_up_calls(&self, amount: u128) -> Vec<Call> {
        vec![
            approve(self.token, self.escrow, amount),
            call(
                self.escrow,
                ITempoStreamChannel::topUpCall {
                    channelId: self.id,
                    additionalDeposit: U256::from(amount),
                }
                .abi_encode(),
            ),
        ]
    }

    /// `calls` in a signed 0x76 transaction from the payer, fees in the
    /// channel's token, as hex.
    pub(crate) fn transaction(&self, calls: Vec<Call>) -> String {
        let mut tx = tempo_payer::transaction(self.chain_id, calls, self.token, false);
        tx.gas_limit = 4_000_000;
        let signed: AASigned = tempo_payer::sign(&self.payer, tx);
        hex::encode_prefixed(tempo_payer::raw(&signed))
    }

    /// `calls` in a 0x76 transaction from the payer that asks for a fee
    /// sponsor (no fee token, the fee payer placeholder), in its `0x78`
    /// envelope as hex; `bend` changes the transaction before signing.
    pub(crate) fn sponsored_transaction(
        &self,
        calls: Vec<Call>,
        bend: impl FnOnce(&mut tempo_alloy::primitives::transaction::TempoTransaction),
    ) -> String {
        let mut tx = tempo_payer::transaction(self.chain_id, calls, self.token, true);
        tx.gas_limit = 2_400_000;
        bend(&mut tx);
        let signed: AASigned = tempo_payer::sign(&self.payer, tx);
        tempo_payer::wire(&signed, self.payer.address())
    }

    /// A voucher for `amount` signed by `signer`.
    pub(crate) fn voucher_by(&self, signer: &PrivateKeySigner, amount: u128) -> Bytes {
        let hash = voucher_signing_hash(self.chain_id, self.escrow, self.id, amount);
        signer
            .sign_hash_sync(&hash)
            .unwrap()
            .as_bytes()
            .to_vec()
            .into()
    }

    /// A voucher for `amount` signed by the channel's signer.
    pub(crate) fn voucher(&self, amount: u128) -> Bytes {
        self.voucher_by(&self.signer, amount)
    }

    /// The `open` payload of `deposit` with a first voucher of `first`.
    pub(crate) fn open_payload(&self, deposit: u128, first: u128) -> Map<String, Value> {
        self.open_payload_with(&self.transaction(self.open_calls(deposit)), first)
    }

    /// An `open` payload carrying `transaction`.
    pub(crate) fn open_payload_with(&self, transaction: &str, first: u128) -> Map<String, Value> {
        object(json!({
            "action": "open", "type": "transaction", "channelId": self.id.to_string(),
            "transaction": transaction, "cumulativeAmount": first.to_string(),
            "signature": self.voucher(first).to_string(),
        }))
    }

    /// A `topUp` payload of `amount`.
    pub(crate) fn top_up_payload(&self, amount: u128) -> Map<String, Value> {
        object(json!({
            "action": "topUp", "type": "transaction", "channelId": self.id.to_string(),
            "transaction": self.transaction(self.top_up_calls(amount)),
            "additionalDeposit": amount.to_string(),
        }))
    }

    /// A `voucher` payload for `amount`.
    pub(crate) fn voucher_payload(&self, amount: u128) -> Map<String, Value> {
        voucher_like("voucher", self.id, amount, &self.voucher(amount))
    }

    /// A `close` payload for `amount`.
    pub(crate) fn close_payload(&self, amount: u128) -> Map<String, Value> {
        voucher_like("close", self.id, amount, &self.voucher(amount))
    }
}

/// A `voucher` or `close` payload with any fields.
pub(crate) fn voucher_like(
    action: &str,
    id: B256,
    amount: u128,
    signature: &Bytes,
) -> Map<String, Value> {
    object(json!({
        "action": action, "channelId": id.to_string(),
        "cumulativeAmount": amount.to_string(), "signature": signature.to_string(),
    }))
}

/// The `Authorization` value answering `challenge` with `payload`.
pub(crate) fn credential(challenge: &Challenge, payload: Map<String, Value>) -> String {
    tempo_payer::credential(challenge, payload, None)
}

pub(crate) fn approve(token: Address, spender: Address, amount: u128) -> Call {
    call(
        token,
        ITIP20::approveCall {
            spender,
            amount: U256::from(amount),
        }
        .abi_encode(),
    )
}

pub(crate) fn call(to: Address, input: Vec<u8>) -> Call {
    Call {
        to: TxKind::Call(to),
        value: U256::ZERO,
        input: input.into(),
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => unreachable!(),
    }
}
