//! The channel's side of [`TempoSessionProvider`]: the book, the `open`
//! and `topUp` transactions, vouchers, and paying one challenge.
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256, hex};
use alloy_signer::SignerSync;
use alloy_sol_types::SolCall;
use reqwest::Url;
use serde_json::{Map, Value, json};
use tempo_alloy::contracts::precompiles::ITIP20;
use tempo_alloy::primitives::transaction::Call;

use super::book::ChannelRecord;
use super::{
    CHANNEL_GAS, DEFAULT_MAX_DEPOSIT, Paid, TempoSessionProvider, book_key, management,
    session_request,
};
use crate::client::SpendingPolicy;
use crate::client::error::{ClientError, PayError, PolicyViolation};
use crate::client::tempo::Fees;
use crate::protocol::{Challenge, Credential};
use crate::tempo::encode_fee_payer_envelope;
use crate::tempo::session::{ITempoStreamChannel, SessionRequest, VoucherHasher, channel_id};

impl TempoSessionProvider {
    pub(super) fn record(&self, key: &str) -> Result<Option<ChannelRecord>, ClientError> {
        self.inner
            .book
            .get(key)
            .map_err(|e| ClientError::PaymentFailed(PayError::failed(e)))
    }

    /// Records `amount` as the channel's highest voucher before it is sent.
    pub(super) fn record_voucher(
        &self,
        key: &str,
        record: &mut ChannelRecord,
        amount: u128,
    ) -> Result<(), PayError> {
        record.cumulative = amount;
        self.inner.book.put(key, record).map_err(PayError::failed)
    }

    /// Adds to the channel's deposit so it covers `required` (by at least
    /// the configured deposit), through the server; what was added.
    pub(super) async fn top_up(
        &self,
        url: &Url,
        challenge: &Challenge,
        key: &str,
        record: &mut ChannelRecord,
        required: u128,
        policy: Option<&SpendingPolicy>,
    ) -> Result<u128, ClientError> {
        let missing = required - record.deposit;
        let added = missing.max(self.inner.deposit.unwrap_or(0));
        let deposit = record.deposit.saturating_add(added);
        self.check_deposit(deposit)
            .map_err(ClientError::PaymentFailed)?;
        if let Some(policy) = policy {
            policy
                .reserve_deposit(challenge, added)
                .map_err(ClientError::PolicyRefused)?;
        }
        let calls = vec![
            approve(record.token, record.escrow, added),
            call(
                record.escrow,
                ITempoStreamChannel::topUpCall {
                    channelId: record.channel_id,
                    additionalDeposit: U256::from(added),
                }
                .abi_encode(),
            ),
        ];
        let request = session_request(challenge).map_err(ClientError::PaymentFailed)?;
        let transaction = self
            .transaction(challenge, &request, calls)
            .map_err(ClientError::PaymentFailed)?;
        let payload = object(json!({
            "action": "topUp", "type": "transaction",
            "channelId": record.channel_id.to_string(), "transaction": transaction,
            "additionalDeposit": added.to_string(),
        }));
        management::send(&self.inner.http, url, challenge, payload).await?;
        record.deposit = deposit;
        self.inner
            .book
            .put(key, record)
            .map_err(|e| ClientError::PaymentFailed(PayError::failed(e)))?;
        Ok(added)
    }

    /// The most one channel may hold: [`max_deposit`](TempoSessionProvider::max_deposit),
    /// else [`DEFAULT_MAX_DEPOSIT`].
    pub(super) fn deposit_cap(&self) -> u128 {
        self.inner.max_deposit.unwrap_or(DEFAULT_MAX_DEPOSIT)
    }

    pub(super) fn check_deposit(&self, deposit: u128) -> Result<(), PayError> {
        let max = self.deposit_cap();
        if deposit > max {
            return Err(PayError::Policy(PolicyViolation::Deposit { deposit, max }));
        }
        Ok(())
    }

    /// A signed `0x76` transaction making `calls`, valid until the
    /// challenge expires (25 s at most), as hex: fees in the channel's
    /// token, or left to the server when it sponsors them.
    pub(super) fn transaction(
        &self,
        challenge: &Challenge,
        request: &SessionRequest,
        calls: Vec<Call>,
    ) -> Result<String, PayError> {
        let chain_id = request
            .method_details
            .chain_id
            .ok_or_else(|| PayError::invalid("the session request names no chain"))?;
        let sponsored = request.method_details.fee_payer;
        let valid_before =
            crate::client::tempo::valid_before(challenge, std::time::SystemTime::now())?;
        let fees = Fees {
            fee_token: (!sponsored).then_some(request.currency),
            gas_limit: CHANNEL_GAS,
            max_fee_per_gas: self.inner.max_fee_per_gas,
            max_priority_fee_per_gas: self.inner.max_priority_fee_per_gas,
        };
        let unsigned = crate::client::tempo::transaction(chain_id, calls, fees, valid_before);
        let signature = self
            .inner
            .signer
            .sign_hash_sync(&unsigned.signature_hash())
            .map_err(PayError::failed)?;
        let signed = unsigned.into_signed(signature.into());
        let wire = if sponsored {
            encode_fee_payer_envelope(&signed, self.address())
        } else {
            signed.encoded_2718()
        };
        Ok(hex::encode_prefixed(wire))
    }

    /// A `voucher` or `close` payload for `amount` on `record`'s channel.
    pub(super) fn voucher_payload(
        &self,
        action: &str,
        record: &ChannelRecord,
        amount: u128,
    ) -> Map<String, Value> {
        let hash =
            VoucherHasher::new(record.chain_id, record.escrow).hash(record.channel_id, amount);
        let signature = self
            .inner
            .signer
            .sign_hash_sync(&hash)
            .map(|s| Bytes::from(s.as_bytes().to_vec()))
            .unwrap_or_default();
        object(json!({
            "action": action, "channelId": record.channel_id.to_string(),
            "cumulativeAmount": amount.to_string(), "signature": signature.to_string(),
        }))
    }

    /// Opens a channel for `challenge`'s server: the `open` payload. With
    /// `again`, the unconfirmed channel of that record is opened again
    /// (same salt and deposit: the same channel) with a voucher one price
    /// higher.
    pub(super) fn open(
        &self,
        challenge: &Challenge,
        request: &SessionRequest,
        key: &str,
        again: Option<&ChannelRecord>,
        policy: Option<&SpendingPolicy>,
    ) -> Result<Map<String, Value>, PayError> {
        let chain_id = request
            .method_details
            .chain_id
            .ok_or_else(|| PayError::invalid("the session request names no chain"))?;
        let deposit = match again {
            Some(record) => record.deposit,
            // A server's suggestion is taken up to the cap only.
            None => self
                .inner
                .deposit
                .or(request
                    .suggested_deposit
                    .map(|suggested| suggested.min(self.deposit_cap())))
                .ok_or_else(|| PayError::invalid("no deposit is configured or suggested"))?
                .max(request.amount),
        };
        self.check_deposit(deposit)?;
        if let (None, Some(policy)) = (again, policy) {
            policy.reserve_deposit(challenge, deposit)?;
        }
        let escrow = request.method_details.escrow_contract;
        let payer = self.address();
        let salt = again.map_or_else(B256::random, |record| record.salt);
        let first = match again {
            Some(record) => record
                .cumulative
                .checked_add(request.amount)
                .filter(|next| *next <= deposit)
                .ok_or_else(|| PayError::invalid("the unconfirmed channel's deposit is used up"))?,
            None => request.amount,
        };
        let id = channel_id(
            payer,
            request.recipient,
            request.currency,
            salt,
            payer,
            escrow,
            chain_id,
        );
        let calls = vec![
            approve(request.currency, escrow, deposit),
            call(
                escrow,
                ITempoStreamChannel::openCall {
                    payee: request.recipient,
                    token: request.currency,
                    deposit,
                    salt,
                    authorizedSigner: payer,
                }
                .abi_encode(),
            ),
        ];
        let transaction = self.transaction(challenge, request, calls)?;
        let mut record = ChannelRecord {
            channel_id: id,
            escrow,
            chain_id,
            payee: request.recipient,
            token: request.currency,
            deposit,
            cumulative: 0,
            spent: 0,
            salt,
            confirmed: false,
        };
        self.record_voucher(key, &mut record, first)?;
        let voucher = self.voucher_payload("open", &record, first);
        let mut payload = object(json!({
            "action": "open", "type": "transaction", "channelId": id.to_string(),
            "transaction": transaction, "cumulativeAmount": first.to_string(),
        }));
        payload.insert("signature".into(), voucher["signature"].clone());
        Ok(payload)
    }

    pub(super) async fn pay_session(
        &self,
        challenge: &Challenge,
        url: Option<&Url>,
        policy: Option<&SpendingPolicy>,
    ) -> Result<Credential, PayError> {
        let request = session_request(challenge)?;
        let key = book_key(challenge, &request);
        let _paying = self.inner.paying.lock().await;
        let known = self.inner.book.get(&key).map_err(PayError::failed)?;
        let (payload, id) = match known {
            None => {
                let payload = self.open(challenge, &request, &key, None, policy)?;
                let id = payload["channelId"]
                    .as_str()
                    .and_then(|t| t.parse().ok())
                    .unwrap_or_default();
                (payload, id)
            }
            Some(record) if !record.confirmed && record.salt != B256::ZERO => {
                let payload = self.open(challenge, &request, &key, Some(&record), policy)?;
                let id = payload["channelId"]
                    .as_str()
                    .and_then(|t| t.parse().ok())
                    .unwrap_or_default();
                (payload, id)
            }
            Some(mut record) => {
                let next = record
                    .cumulative
                    .checked_add(request.amount)
                    .ok_or_else(|| PayError::invalid("the voucher would overflow"))?;
                if next > record.deposit {
                    let Some(url) = url else {
                        return Err(PayError::invalid(
                            "the channel needs a top-up, which needs the paid URL",
                        ));
                    };
                    self.top_up(url, challenge, &key, &mut record, next, policy)
                        .await
                        .map_err(|e| match e {
                            ClientError::PaymentFailed(e) => e,
                            ClientError::PolicyRefused(v) => PayError::Policy(v),
                            other => PayError::failed(other.to_string()),
                        })?;
                }
                self.record_voucher(&key, &mut record, next)?;
                (
                    self.voucher_payload("voucher", &record, next),
                    record.channel_id,
                )
            }
        };
        self.paid().insert(
            id,
            Paid {
                key,
                challenge: challenge.clone(),
                url: url.cloned(),
            },
        );
        Ok(Credential::new(challenge.clone(), payload))
    }
}

fn approve(token: Address, spender: Address, amount: u128) -> Call {
    call(
        token,
        ITIP20::approveCall {
            spender,
            amount: U256::from(amount),
        }
        .abi_encode(),
    )
}

fn call(to: Address, input: Vec<u8>) -> Call {
    Call {
        to: TxKind::Call(to),
        value: U256::ZERO,
        input: input.into(),
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
