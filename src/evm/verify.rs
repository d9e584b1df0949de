//! A verification in two halves: [`Proof::check`], everything a credential
//! and the challenge's request show on their own (signatures, digests,
//! amounts, recipients, deadlines), then the chain and store steps of each
//! credential type with what it checked ([`Settle`]).

use std::ops::Deref;
use std::time::{Duration, SystemTime};

use alloy_primitives::{Address, B256};
use serde_json::Value;

use super::request::{CredentialType, EvmRequest};
use super::{Inner, RETRY_AFTER, authorization, challenge_hash, hash, permit2, transaction};
use super::{unavailable, unix};
use crate::chain::rpc::{self, RpcFault};
use crate::method::{Settlement, Verification, VerifyError};
use crate::protocol::{Base64Json, Credential};

/// The challenge's request, typed.
pub(super) fn read_request(request: &Base64Json) -> Result<EvmRequest, VerifyError> {
    request.deserialize().map_err(|e| {
        VerifyError::failed("The challenge's request is not an EVM charge.").with_source(e)
    })
}

/// A credential read against its request: its type (one this charge
/// accepts) and payer.
#[derive(Debug)]
pub(super) struct Proof<'a> {
    pub(super) method: &'a Inner,
    pub(super) credential: &'a Credential,
    pub(super) request: &'a EvmRequest,
    pub(super) payer: Option<Address>,
    kind: CredentialType,
}

/// A credential checked offline, ready for its chain steps.
#[derive(Debug)]
pub(super) enum Checked<'a> {
    Permit2(permit2::Ready<'a>),
    Authorization(authorization::Ready<'a>),
    Transaction(transaction::Checked),
    Hash(B256),
}

impl<'a> Proof<'a> {
    /// Reads the source and the payload type; `durable_claims` is whether
    /// the claim store survives a restart (what unbound proofs need).
    pub(super) fn read(
        method: &'a Inner,
        credential: &'a Credential,
        request: &'a EvmRequest,
        durable_claims: bool,
    ) -> Result<Self, VerifyError> {
        let payer = match credential.source.as_deref() {
            None => None,
            Some(source) => {
                let payer = crate::chain::did::parse_did(source).ok_or_else(|| {
                    VerifyError::malformed("The credential's source is not a did:pkh:eip155 DID.")
                })?;
                if payer.chain_id != request.method_details.chain_id {
                    return Err(VerifyError::failed(
                        "The credential's source names another chain.",
                    ));
                }
                Some(payer.address)
            }
        };
        let kind = match credential.payload.get("type").and_then(Value::as_str) {
            Some("permit2") => CredentialType::Permit2,
            Some("authorization") => CredentialType::Authorization,
            Some("transaction") => CredentialType::Transaction,
            Some("hash") => CredentialType::Hash,
            _ => {
                return Err(VerifyError::malformed(
                    "The payload type must be \"permit2\", \"authorization\", \"transaction\" or \"hash\".",
                ));
            }
        };
        if !request.accepts(kind) {
            return Err(VerifyError::failed(format!(
                "This charge does not accept {} credentials.",
                kind.as_str()
            )));
        }
        if !request.method_details.splits.is_empty() && kind != CredentialType::Permit2 {
            return Err(VerifyError::failed(
                "A charge with splits is paid with a permit2 credential.",
            ));
        }
        if !kind.server_pays_gas() && !durable_claims && !method.unbound_on_volatile_store {
            return Err(VerifyError::failed(
                "This server is not set up to accept transaction or hash credentials (its claim store does not survive a restart).",
            ));
        }
        Ok(Self {
            method,
            credential,
            request,
            payer,
            kind,
        })
    }

    /// Every check that needs no chain and no store.
    pub(super) fn check(&self) -> Result<Checked<'a>, VerifyError> {
        Ok(match self.kind {
            CredentialType::Permit2 => Checked::Permit2(permit2::prepare(self)?),
            CredentialType::Authorization => Checked::Authorization(authorization::prepare(self)?),
            CredentialType::Transaction => Checked::Transaction(transaction::check(self)?),
            CredentialType::Hash => Checked::Hash(hash::parse(self)?),
        })
    }

    pub(super) fn payload_str(&self, field: &str) -> Result<&'a str, VerifyError> {
        self.credential
            .payload
            .get(field)
            .and_then(Value::as_str)
            .ok_or_else(|| {
                VerifyError::malformed(format!("The payload has no \"{field}\" string."))
            })
    }

    /// The challenge hash this credential must carry.
    pub(super) fn challenge_hash(&self) -> B256 {
        let challenge = &self.credential.challenge;
        challenge_hash(&challenge.id, &challenge.realm)
    }
}

/// Verifies `verification` with `method`: the offline checks, then the
/// chain.
pub(super) async fn verify(
    method: &Inner,
    verification: &Verification<'_>,
) -> Result<Settlement, VerifyError> {
    let request = read_request(verification.request)?;
    let proof = Proof::read(
        method,
        verification.credential,
        &request,
        verification.claims.is_durable(),
    )?;
    let checked = proof.check()?;
    let ctx = Settle {
        proof,
        verification,
    };
    match checked {
        Checked::Permit2(ready) => permit2::settle(&ctx, ready).await,
        Checked::Authorization(ready) => authorization::settle(&ctx, ready).await,
        Checked::Transaction(checked) => transaction::settle(&ctx, checked).await,
        Checked::Hash(hash) => hash::settle(&ctx, hash).await,
    }
}

/// A checked proof and the verification it answers: what the chain and
/// store steps share.
pub(super) struct Settle<'a> {
    proof: Proof<'a>,
    verification: &'a Verification<'a>,
}

impl<'a> Deref for Settle<'a> {
    type Target = Proof<'a>;

    fn deref(&self) -> &Proof<'a> {
        &self.proof
    }
}

/// The claim store could not answer: a retryable `503`.
pub(super) fn claims_unavailable(error: crate::store::StoreError) -> VerifyError {
    VerifyError::unavailable(RETRY_AFTER, "Payments are temporarily unavailable.")
        .with_source(error)
}

impl Settle<'_> {
    /// The claim store.
    pub(super) fn claims(&self) -> &crate::store::SharedStore {
        self.verification.claims
    }

    /// Time left before the challenge expires.
    pub(super) fn until_expiry(&self) -> Duration {
        self.verification
            .expires
            .duration_since(SystemTime::now())
            .unwrap_or_default()
    }

    /// Claims `key` for `ttl`: a proof already claimed is a replay.
    pub(super) async fn claim(&self, key: &str, ttl: Duration) -> Result<(), VerifyError> {
        match self.verification.claims.claim(key, ttl).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(VerifyError::replayed(
                "This payment proof has already paid for a request.",
            )),
            Err(e) => Err(claims_unavailable(e)),
        }
    }

    /// Gives a claim back after a definite failure that moved no money.
    pub(super) async fn release(&self, key: &str) {
        // Best effort: an unreleased claim only blocks a retry of a proof
        // that did not pay.
        let _ = self.verification.claims.release(key).await;
    }

    /// Refuses a transaction mined before this challenge was issued: it
    /// was made for something else (one second of slack for clocks).
    pub(super) async fn check_mined_after_issue(
        &self,
        receipt: &rpc::Receipt,
    ) -> Result<(), VerifyError> {
        let mined = match (receipt.block_timestamp, receipt.block_number) {
            (Some(timestamp), _) => timestamp.to::<u64>(),
            (None, Some(number)) => self
                .method
                .rpc
                .block_timestamp(number)
                .await
                .map_err(unavailable)?,
            (None, None) => {
                return Err(unavailable(RpcFault::Unavailable(
                    "a receipt without a block".to_owned(),
                )));
            }
        };
        let issued = unix(self.verification.issued);
        if mined + 1 < issued {
            return Err(VerifyError::replayed(
                "This transaction was mined before the challenge was issued.",
            ));
        }
        Ok(())
    }

    /// The draft's receipt: the transaction, the challenge it paid, the
    /// chain, and the request's `externalId`.
    pub(super) fn settlement(&self, hash: B256) -> Settlement {
        let mut settlement = Settlement::new(hash.to_string())
            .receipt_field("challengeId", self.credential.challenge.id.clone())
            .receipt_field("chainId", self.request.method_details.chain_id);
        if let Some(id) = &self.request.external_id {
            settlement = settlement.receipt_field("externalId", id.clone());
        }
        settlement
    }
}
