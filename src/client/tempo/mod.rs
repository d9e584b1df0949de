//! [`TempoProvider`]: pays Tempo charges (features `client` and `tempo`).

mod tx;

pub(crate) use tx::{Fees, transaction, valid_before};

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::client::node::{Node, payment_fault};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, hex};
use alloy_signer::Signer;
use alloy_signer_local::PrivateKeySigner;
use serde_json::{Map, Value, json};

use crate::client::{PayError, PaymentProvider};
use crate::protocol::{Challenge, Credential};
use crate::tempo::request::ChargeRequest;
use crate::tempo::rpc::{Rpc, RpcFault};
use crate::tempo::{
    Mode, TempoConfigError, did_pkh, encode_fee_payer_envelope, proof_signing_hash,
};
use crate::tls::ExtraRoots;

/// Tempo's base fee is 20 gwei: twice that plus the tip leaves room for
/// the base fee to rise while the transaction waits.
const MAX_FEE_PER_GAS: u128 = 41_000_000_000;
/// The priority fee (tip), 1 gwei.
const MAX_PRIORITY_FEE_PER_GAS: u128 = 1_000_000_000;
/// The gas limit of a sponsored transaction: the sponsor pays for what is
/// used, and estimating would need the sponsor's fee token.
const SPONSORED_GAS_LIMIT: u64 = 1_000_000;
/// The cap on gas estimation (a node otherwise simulates with the block's
/// gas limit, reserving that much of the fee token).
const ESTIMATE_CAP: u64 = 3_000_000;
/// Added to the estimate, for the variance between estimate and execution.
const ESTIMATE_MARGIN: u64 = 5_000;

/// Pays Tempo charges (`method="tempo"`, `intent="charge"`) with an alloy
/// signer and a Tempo RPC node.
///
/// - Non-zero amounts: **pull** by default (the client signs a Tempo
///   transaction, the server broadcasts it), **push** with
///   [`with_mode(Mode::Push)`](Self::with_mode) (the client broadcasts,
///   waits for the receipt and sends the hash). The challenge's
///   `supportedModes` win over the preference; sponsored charges
///   (`feePayer: true`) are always pulled, as a `0x78` fee-payer envelope
///   with no fee token, for the server to co-sign.
/// - Zero amounts: a **proof**, the EIP-712 signature the server checks.
///
/// The primary transfer carries the request's memo, or else the
/// challenge's attribution memo with this client's id
/// ([`client_id`](Self::client_id)); splits are paid in the same
/// transaction. The chain of each challenge must be the node's (asked once
/// with `eth_chainId`, or set with [`with_chain_id`](Self::with_chain_id)).
///
/// ```no_run
/// use tower_mpp::client::{PaymentExt, PrivateKeySigner, TempoProvider};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let signer: PrivateKeySigner = std::env::var("PAYER_KEY")?.parse()?;
/// let provider = TempoProvider::new(signer, "https://rpc.tempo.xyz")?.client_id("my-app");
/// let response = reqwest::Client::new()
///     .get("https://api.example.com/paid")
///     .send_with_payment(&provider)
///     .await?;
/// # let _ = response; Ok(()) }
/// ```
#[derive(Clone)]
pub struct TempoProvider<S = PrivateKeySigner> {
    signer: S,
    node: Node,
    client_id: Option<String>,
    mode: Mode,
    fee_token: Option<Address>,
    gas_limit: Option<u64>,
    max_fee_per_gas: u128,
    max_priority_fee_per_gas: u128,
    receipt_timeout: Duration,
    roots: ExtraRoots,
}

impl<S: Signer + Send + Sync> TempoProvider<S> {
    /// Pays as `signer` through the node at `rpc_url`.
    ///
    /// # Errors
    ///
    /// [`TempoConfigError::InvalidRpcUrl`] if `rpc_url` is not an http(s)
    /// URL, [`TempoConfigError::TlsUnavailable`] if it is https in a build
    /// without TLS.
    pub fn new(signer: S, rpc_url: impl AsRef<str>) -> Result<Self, TempoConfigError> {
        let url = crate::tempo::config::parse_url(Some(rpc_url.as_ref()))?;
        Ok(Self {
            signer,
            node: Node::new(Rpc::new(
                url,
                Duration::from_secs(10),
                &ExtraRoots::default(),
            )?),
            client_id: None,
            mode: Mode::Pull,
            fee_token: None,
            gas_limit: None,
            max_fee_per_gas: MAX_FEE_PER_GAS,
            max_priority_fee_per_gas: MAX_PRIORITY_FEE_PER_GAS,
            receipt_timeout: Duration::from_secs(30),
            roots: ExtraRoots::default(),
        })
    }

    /// Names this client in attribution memos (bytes 15..25 hold the first
    /// 10 bytes of its keccak256), so servers can tell their clients apart.
    #[must_use]
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = Some(id.into()).filter(|id: &String| !id.is_empty());
        self
    }

    /// The former name of [`client_id`](Self::client_id).
    #[deprecated(note = "renamed `client_id`")]
    #[must_use]
    pub fn with_client_id(self, id: impl Into<String>) -> Self {
        self.client_id(id)
    }

    /// The node's chain, known in advance: saves the `eth_chainId` call.
    #[must_use]
    pub fn chain_id(mut self, chain_id: u64) -> Self {
        self.node.set_chain_id(chain_id);
        self
    }

    /// The former name of [`chain_id`](Self::chain_id).
    #[deprecated(note = "renamed `chain_id`")]
    #[must_use]
    pub fn with_chain_id(self, chain_id: u64) -> Self {
        self.chain_id(chain_id)
    }

    /// Pull (the default) or push, when the challenge allows both.
    #[must_use]
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// The former name of [`mode`](Self::mode).
    #[deprecated(note = "renamed `mode`")]
    #[must_use]
    pub fn with_mode(self, mode: Mode) -> Self {
        self.mode(mode)
    }

    /// The TIP-20 token fees are paid in (default: the charge's currency).
    #[must_use]
    pub fn fee_token(mut self, token: Address) -> Self {
        self.fee_token = Some(token);
        self
    }

    /// The former name of [`fee_token`](Self::fee_token).
    #[deprecated(note = "renamed `fee_token`")]
    #[must_use]
    pub fn with_fee_token(self, token: Address) -> Self {
        self.fee_token(token)
    }

    /// A fixed gas limit instead of `eth_estimateGas` (plus a margin).
    #[must_use]
    pub fn gas_limit(mut self, gas: u64) -> Self {
        self.gas_limit = Some(gas);
        self
    }

    /// The former name of [`gas_limit`](Self::gas_limit).
    #[deprecated(note = "renamed `gas_limit`")]
    #[must_use]
    pub fn with_gas_limit(self, gas: u64) -> Self {
        self.gas_limit(gas)
    }

    /// The most paid per gas, in wei (default 41 gwei), and the tip
    /// (default 1 gwei).
    #[must_use]
    pub fn fees_per_gas(mut self, max_fee: u128, priority_fee: u128) -> Self {
        self.max_fee_per_gas = max_fee;
        self.max_priority_fee_per_gas = priority_fee;
        self
    }

    /// The former name of [`fees_per_gas`](Self::fees_per_gas).
    #[deprecated(note = "renamed `fees_per_gas`")]
    #[must_use]
    pub fn with_fees_per_gas(self, max_fee: u128, priority_fee: u128) -> Self {
        self.fees_per_gas(max_fee, priority_fee)
    }

    /// Trusts the certificate authority in `pem` (PEM) for an https RPC
    /// URL, besides the platform's roots: for a node whose certificate a
    /// private authority signed. May be called more than once.
    ///
    /// # Errors
    ///
    /// [`TempoConfigError::InvalidRootCertificate`] if `pem` holds no
    /// certificate or the HTTP client cannot be made with it.
    pub fn root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Result<Self, TempoConfigError> {
        self.roots.push(pem.into());
        self.node.rpc = self.node.rpc.with_roots(&self.roots)?;
        Ok(self)
    }

    /// The former name of [`root_certificate`](Self::root_certificate).
    #[deprecated(note = "renamed `root_certificate`")]
    #[allow(clippy::missing_errors_doc)]
    pub fn with_root_certificate(self, pem: impl Into<Vec<u8>>) -> Result<Self, TempoConfigError> {
        self.root_certificate(pem)
    }

    /// How long one RPC call may take (default 10 s).
    #[must_use]
    pub fn rpc_timeout(mut self, timeout: Duration) -> Self {
        self.node.rpc = self.node.rpc.with_timeout(timeout);
        self
    }

    /// The former name of [`rpc_timeout`](Self::rpc_timeout).
    #[deprecated(note = "renamed `rpc_timeout`")]
    #[must_use]
    pub fn with_rpc_timeout(self, timeout: Duration) -> Self {
        self.rpc_timeout(timeout)
    }

    /// How long a push payment waits for its receipt (default 30 s).
    #[must_use]
    pub fn receipt_timeout(mut self, timeout: Duration) -> Self {
        self.receipt_timeout = timeout;
        self
    }

    /// The former name of [`receipt_timeout`](Self::receipt_timeout).
    #[deprecated(note = "renamed `receipt_timeout`")]
    #[must_use]
    pub fn with_receipt_timeout(self, timeout: Duration) -> Self {
        self.receipt_timeout(timeout)
    }

    /// The paying account.
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    fn mode_for(&self, request: &ChargeRequest) -> Result<Mode, PayError> {
        let sponsored = request.method_details.fee_payer;
        let usable = |mode: Mode| request.allows(mode) && !(sponsored && mode == Mode::Push);
        let other = match self.mode {
            Mode::Pull => Mode::Push,
            Mode::Push => Mode::Pull,
        };
        [self.mode, other]
            .into_iter()
            .find(|mode| usable(*mode))
            .ok_or_else(|| PayError::invalid("the challenge's supportedModes leave no way to pay"))
    }

    async fn proof(&self, challenge: &Challenge, chain_id: u64) -> Result<Value, PayError> {
        let hash = proof_signing_hash(chain_id, self.address(), &challenge.id, &challenge.realm);
        let signature = self
            .signer
            .sign_hash(&hash)
            .await
            .map_err(PayError::failed)?;
        Ok(json!({"type": "proof", "signature": hex::encode_prefixed(signature.as_bytes())}))
    }

    async fn transaction(
        &self,
        challenge: &Challenge,
        request: &ChargeRequest,
        mode: Mode,
    ) -> Result<Value, PayError> {
        let chain_id = request.method_details.chain_id;
        let sponsored = request.method_details.fee_payer;
        let calls = tx::calls(request, challenge, self.client_id.as_deref())?;
        let valid_before = tx::valid_before(challenge, SystemTime::now())?;
        let mut fees = tx::Fees {
            fee_token: (!sponsored).then(|| self.fee_token.unwrap_or(request.currency)),
            gas_limit: self.gas_limit.unwrap_or(SPONSORED_GAS_LIMIT),
            max_fee_per_gas: self.max_fee_per_gas,
            max_priority_fee_per_gas: self.max_priority_fee_per_gas,
        };
        let mut unsigned = tx::transaction(chain_id, calls, fees, valid_before);
        if self.gas_limit.is_none() && !sponsored {
            let estimate = tx::estimate_request(&unsigned, self.address(), ESTIMATE_CAP);
            let gas = self
                .node
                .rpc
                .estimate_gas(estimate)
                .await
                .map_err(|f| payment_fault(&f))?;
            fees.gas_limit = gas.saturating_add(ESTIMATE_MARGIN);
            unsigned.gas_limit = fees.gas_limit;
        }
        let signature = self
            .signer
            .sign_hash(&unsigned.signature_hash())
            .await
            .map_err(PayError::failed)?;
        let signed = unsigned.into_signed(signature.into());
        if mode == Mode::Pull {
            let wire = if sponsored {
                encode_fee_payer_envelope(&signed, self.address())
            } else {
                signed.encoded_2718()
            };
            return Ok(json!({"type": "transaction", "signature": hex::encode_prefixed(wire)}));
        }
        let hash = *signed.hash();
        let receipt = self
            .node
            .rpc
            .broadcast(signed.encoded_2718().into(), hash, self.receipt_timeout)
            .await
            .map_err(|fault| match fault {
                RpcFault::Refused { .. } => {
                    PayError::failed(format!("the node refused the transaction: {fault}"))
                }
                RpcFault::Unavailable(_) => PayError::failed(format!(
                    "transaction {hash} was sent but its receipt is unknown: {fault}"
                )),
            })?;
        if !receipt.succeeded() {
            return Err(PayError::failed(format!("transaction {hash} reverted")));
        }
        Ok(json!({"type": "hash", "hash": hash.to_string()}))
    }
}

impl<S: Signer + Send + Sync> PaymentProvider for TempoProvider<S> {
    fn supports(&self, method: &str, intent: &str) -> bool {
        method == "tempo" && intent == "charge"
    }

    async fn pay(&self, challenge: &Challenge) -> Result<Credential, PayError> {
        if !self.supports(&challenge.method, &challenge.intent) {
            return Err(PayError::unsupported(challenge));
        }
        let request: ChargeRequest = challenge
            .request
            .deserialize()
            .map_err(|e| PayError::invalid(format!("not a Tempo charge request: {e}")))?;
        let chain_id = request.method_details.chain_id;
        let payload = if request.amount.is_zero() {
            self.proof(challenge, chain_id).await?
        } else {
            let mode = self.mode_for(&request)?;
            self.node.check_chain(chain_id).await?;
            self.transaction(challenge, &request, mode).await?
        };
        let Value::Object(payload) = payload else {
            unreachable!("payloads are built as objects")
        };
        Ok(
            Credential::new(challenge.clone(), payload as Map<String, Value>)
                .with_source(did_pkh(chain_id, self.address())),
        )
    }

    fn accepts(&self) -> Vec<(String, String)> {
        vec![("tempo".to_owned(), "charge".to_owned())]
    }
}

impl<S: Signer> fmt::Debug for TempoProvider<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TempoProvider")
            .field("address", &self.signer.address())
            .field("chain_id", &self.node.known_chain_id())
            .field("client_id", &self.client_id)
            .field("mode", &self.mode)
            .field("fee_token", &self.fee_token)
            .field("gas_limit", &self.gas_limit)
            .finish_non_exhaustive()
    }
}
