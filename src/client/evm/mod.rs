//! [`EvmProvider`]: pays EVM charges (features `client` and `evm`).

mod sign;

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::client::node::Node;
use alloy_primitives::{Address, U256};
use alloy_signer::Signer;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, sol};
use serde_json::{Map, Value};

use crate::chain::did::did_pkh;
use crate::chain::rpc::Rpc;
use crate::client::{PayError, PaymentProvider};
use crate::evm::{CredentialType, EvmConfigError, EvmRequest, TokenDomain};
use crate::protocol::{Challenge, Credential};
use crate::tls::ExtraRoots;

sol! {
    function allowance(address owner, address spender) returns (uint256);
}

/// How long a signature stays valid when the challenge has no expiry.
const VALIDITY: Duration = Duration::from_secs(300);

/// Pays EVM charges (`method="evm"`, `intent="charge"`,
/// `draft-evm-charge-00`) with an alloy signer and the chain's JSON-RPC
/// node.
///
/// Of the credential types the challenge lists (by the draft's default
/// `transaction` and `hash`), the first this provider pays is used:
///
/// - **`permit2`**: a Permit2 witness transfer (splits in the batch form),
///   when the challenge names the `spender` and the payer has approved
///   Permit2 for at least the amount (checked with `allowance`).
/// - **`authorization`**: an EIP-3009 authorization whose nonce is the
///   challenge hash, for tokens whose EIP-712 domain was given with
///   [`authorization_domain`](Self::authorization_domain).
/// - **`transaction`**: a signed EIP-1559 `transfer` for the server to
///   broadcast (the payer pays gas).
/// - **`hash`**: the payer broadcasts the transfer, waits for it to be
///   mined and sends its hash.
///
/// [`credential_types`](Self::credential_types) narrows what it
/// pays. The challenge's chain must be the node's (asked once with
/// `eth_chainId`, or set with [`chain_id`](Self::chain_id)); an https
/// node signed by a private authority is trusted with
/// [`root_certificate`](Self::root_certificate).
///
/// ```no_run
/// use tower_mpp::client::{EvmProvider, PaymentExt, PrivateKeySigner};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// const USDC: &str = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913";
/// let signer: PrivateKeySigner = std::env::var("PAYER_KEY")?.parse()?;
/// let provider = EvmProvider::new(signer, "https://mainnet.base.org")?
///     .authorization_domain(USDC.parse()?, "USD Coin", "2");
/// let response = reqwest::Client::new()
///     .get("https://api.example.com/paid")
///     .send_with_payment(&provider)
///     .await?;
/// # let _ = response; Ok(()) }
/// ```
#[derive(Clone)]
pub struct EvmProvider<S = PrivateKeySigner> {
    signer: S,
    node: Node,
    types: Vec<CredentialType>,
    domains: HashMap<Address, TokenDomain>,
    receipt_timeout: Duration,
    roots: ExtraRoots,
}

impl<S: Signer + Send + Sync> EvmProvider<S> {
    /// Pays as `signer` through the node at `rpc_url`, with every
    /// credential type.
    ///
    /// # Errors
    ///
    /// [`EvmConfigError::InvalidRpcUrl`] if `rpc_url` is not an http(s)
    /// URL, [`EvmConfigError::Node`] if it is https in a build without TLS.
    pub fn new(signer: S, rpc_url: impl AsRef<str>) -> Result<Self, EvmConfigError> {
        let url = url::Url::parse(rpc_url.as_ref().trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or(EvmConfigError::InvalidRpcUrl)?;
        let rpc = Rpc::new(url, Duration::from_secs(10), &ExtraRoots::default())
            .map_err(|e| EvmConfigError::Node(e.to_string()))?;
        Ok(Self {
            signer,
            node: Node::new(rpc),
            types: vec![
                CredentialType::Permit2,
                CredentialType::Authorization,
                CredentialType::Transaction,
                CredentialType::Hash,
            ],
            domains: HashMap::new(),
            receipt_timeout: Duration::from_secs(30),
            roots: ExtraRoots::default(),
        })
    }

    /// Pays only with these credential types (the challenge's order still
    /// decides among them).
    #[must_use]
    pub fn credential_types(mut self, types: impl IntoIterator<Item = CredentialType>) -> Self {
        self.types = types.into_iter().collect();
        self
    }

    /// `token`'s EIP-712 domain for EIP-3009 authorizations (USDC's is
    /// `"USD Coin"`, `"2"` on most chains): without it, no
    /// `authorization` is signed for the token.
    #[must_use]
    pub fn authorization_domain(
        mut self,
        token: Address,
        name: impl Into<String>,
        version: impl Into<String>,
    ) -> Self {
        let domain = TokenDomain {
            name: name.into(),
            version: version.into(),
        };
        self.domains.insert(token, domain);
        self
    }

    /// The node's chain, known in advance: saves the `eth_chainId` call.
    #[must_use]
    pub fn chain_id(mut self, chain_id: u64) -> Self {
        self.node.set_chain_id(chain_id);
        self
    }

    /// Trusts the certificate authority in `pem` (PEM) for an https RPC
    /// URL, besides the platform's roots: for a node whose certificate a
    /// private authority signed. May be called more than once.
    ///
    /// # Errors
    ///
    /// [`EvmConfigError::Node`] if `pem` holds no certificate or the HTTP
    /// client cannot be made with it.
    pub fn root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Result<Self, EvmConfigError> {
        self.roots.push(pem.into());
        self.node.rpc = self.node.rpc.with_roots(&self.roots)?;
        Ok(self)
    }

    /// How long one RPC call may take (default 10 s).
    #[must_use]
    pub fn rpc_timeout(mut self, timeout: Duration) -> Self {
        self.node.rpc = self.node.rpc.with_timeout(timeout);
        self
    }

    /// How long a `hash` payment waits for its receipt (default 30 s).
    #[must_use]
    pub fn receipt_timeout(mut self, timeout: Duration) -> Self {
        self.receipt_timeout = timeout;
        self
    }

    /// The former name of [`credential_types`](Self::credential_types).
    #[deprecated(note = "renamed `credential_types`")]
    #[must_use]
    pub fn with_credential_types(self, types: impl IntoIterator<Item = CredentialType>) -> Self {
        self.credential_types(types)
    }

    /// The former name of [`authorization_domain`](Self::authorization_domain).
    #[deprecated(note = "renamed `authorization_domain`")]
    #[must_use]
    pub fn with_authorization_domain(
        self,
        token: Address,
        name: impl Into<String>,
        version: impl Into<String>,
    ) -> Self {
        self.authorization_domain(token, name, version)
    }

    /// The former name of [`chain_id`](Self::chain_id).
    #[deprecated(note = "renamed `chain_id`")]
    #[must_use]
    pub fn with_chain_id(self, chain_id: u64) -> Self {
        self.chain_id(chain_id)
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

    /// The credential type to pay `request` with: the first the challenge
    /// lists that this provider pays and can pay here.
    async fn choose(&self, request: &EvmRequest) -> Result<CredentialType, PayError> {
        let details = &request.method_details;
        let offered = details
            .credential_types
            .clone()
            .unwrap_or_else(|| vec![CredentialType::Transaction, CredentialType::Hash]);
        let has_splits = !details.splits.is_empty();
        for kind in offered {
            if !self.types.contains(&kind) {
                continue;
            }
            let usable = match kind {
                CredentialType::Permit2 => {
                    details.spender.is_some() && self.permit2_allows(request).await?
                }
                CredentialType::Authorization => {
                    !has_splits && self.domains.contains_key(&request.currency)
                }
                CredentialType::Transaction | CredentialType::Hash => !has_splits,
            };
            if usable {
                return Ok(kind);
            }
        }
        Err(PayError::invalid(
            "none of the challenge's credential types can be paid by this provider",
        ))
    }

    /// Whether the payer's Permit2 allowance covers the amount (the
    /// one-time approval the draft asks of `permit2` payers).
    async fn permit2_allows(&self, request: &EvmRequest) -> Result<bool, PayError> {
        let data = allowanceCall {
            owner: self.address(),
            spender: request.method_details.permit2_address,
        }
        .abi_encode();
        let out = self
            .node
            .rpc
            .eth_call(request.currency, data.into())
            .await
            .map_err(|fault| PayError::unavailable(fault.to_string()))?;
        let allowed = allowanceCall::abi_decode_returns(&out).unwrap_or(U256::ZERO);
        Ok(allowed >= request.amount)
    }
}

/// The Unix time a signature stops being valid: the challenge's expiry,
/// else [`VALIDITY`] from now.
fn valid_until(challenge: &Challenge) -> Result<u64, PayError> {
    let seconds = |t: SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let now = seconds(SystemTime::now());
    let until = challenge
        .expires
        .as_ref()
        .map_or(now + VALIDITY.as_secs(), |e| seconds(e.to_system_time()));
    if until <= now {
        return Err(PayError::invalid(format!(
            "challenge {} expires too soon to pay",
            challenge.id
        )));
    }
    Ok(until)
}

impl<S: Signer + Send + Sync> PaymentProvider for EvmProvider<S> {
    fn supports(&self, method: &str, intent: &str) -> bool {
        method == "evm" && intent == "charge"
    }

    async fn pay(&self, challenge: &Challenge) -> Result<Credential, PayError> {
        if !self.supports(&challenge.method, &challenge.intent) {
            return Err(PayError::unsupported(challenge));
        }
        let request: EvmRequest = challenge
            .request
            .deserialize()
            .map_err(|e| PayError::invalid(format!("not an EVM charge request: {e}")))?;
        if request.primary_amount().is_none() {
            return Err(PayError::invalid(
                "the splits leave nothing of the amount to the recipient",
            ));
        }
        let chain_id = request.method_details.chain_id;
        self.node.check_chain(chain_id).await?;
        let kind = self.choose(&request).await?;
        let payload = match kind {
            CredentialType::Permit2 => sign::permit2(self, challenge, &request).await?,
            CredentialType::Authorization => sign::authorization(self, challenge, &request).await?,
            CredentialType::Transaction => sign::transaction(self, &request).await?.0,
            CredentialType::Hash => sign::hash(self, &request).await?,
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
        vec![("evm".to_owned(), "charge".to_owned())]
    }
}

impl<S: Signer> fmt::Debug for EvmProvider<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EvmProvider")
            .field("address", &self.signer.address())
            .field("chain_id", &self.node.known_chain_id())
            .field("types", &self.types)
            .field("domains", &self.domains.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}
