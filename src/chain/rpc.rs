//! The few JSON-RPC calls the chain methods (Tempo, EVM) make, with time
//! limits and errors sorted into "the client's transaction is bad" and
//! "the chain is unreachable".

use std::fmt;
use std::time::Duration;

use alloy_json_rpc::RpcError;
use alloy_primitives::{Address, B256, Bytes, Log, U64};
use alloy_rpc_client::{ClientBuilder, RpcClient};
use alloy_transport::TransportErrorKind;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::tls::{ExtraRoots, HAS_TLS, causes};

/// Why a node cannot be used, found at start-up. Each method's
/// configuration error converts from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NodeError {
    /// Asking the node for its chain id failed: its host, then why.
    ChainIdUnavailable(String),
    /// The node answers another chain id than the one configured.
    ChainIdMismatch {
        /// The node's host (and port).
        host: String,
        /// The chain id configured.
        configured: u64,
        /// The chain id the node answered.
        node: u64,
    },
    /// The URL (of this host) is https, and this build has no TLS.
    TlsUnavailable(String),
    /// The HTTP client cannot be made with the extra root certificates.
    InvalidRootCertificate(String),
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ChainIdUnavailable(why) => write!(f, "the node did not say its chain id: {why}"),
            Self::ChainIdMismatch {
                host,
                configured,
                node,
            } => write!(f, "the node at {host} is on chain {node}, not {configured}"),
            Self::TlsUnavailable(host) => write!(
                f,
                "{host} needs TLS, and this build has none (features rustls or native-tls)"
            ),
            Self::InvalidRootCertificate(why) => write!(f, "a root certificate: {why}"),
        }
    }
}

/// How often a broadcast transaction's receipt is polled for, on nodes
/// without `eth_sendRawTransactionSync`.
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// JSON-RPC "method not found": the node has no `eth_sendRawTransactionSync`.
const METHOD_NOT_FOUND: i64 = -32601;
/// JSON-RPC "internal error" and "limit exceeded": the node's trouble, not
/// the transaction's.
const NODE_TROUBLE: [i64; 3] = [-32603, -32005, 429];

/// A transaction receipt: the fields verification reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Receipt {
    pub(crate) transaction_hash: B256,
    #[cfg_attr(not(feature = "tempo"), allow(dead_code))]
    pub(crate) from: Address,
    pub(crate) status: U64,
    #[serde(default)]
    pub(crate) logs: Vec<Log>,
    #[serde(default)]
    pub(crate) block_number: Option<U64>,
    /// Not standard, but sent by anvil and reth-based nodes (Tempo's).
    #[serde(default)]
    pub(crate) block_timestamp: Option<U64>,
}

/// A block's header fields that verification reads.
#[derive(Debug, Clone, Deserialize)]
struct BlockHeader {
    timestamp: U64,
}

impl Receipt {
    pub(crate) fn succeeded(&self) -> bool {
        self.status == U64::from(1)
    }
}

/// What went wrong with a call.
#[derive(Debug)]
pub(crate) enum RpcFault {
    /// The node refused the request with a JSON-RPC error about it (a bad
    /// transaction, say).
    Refused { code: i64, message: String },
    /// The node could not be reached, answered garbage, an HTTP error or a
    /// JSON-RPC error about itself, or took too long.
    Unavailable(String),
}

impl RpcFault {
    pub(crate) fn is_unknown_method(&self) -> bool {
        matches!(self, Self::Refused { code, .. } if *code == METHOD_NOT_FOUND)
    }

    /// The node says it already has this transaction in its pool (a
    /// retried broadcast): it will be mined, or already was.
    pub(crate) fn is_already_known(&self) -> bool {
        self.message_has(&["already known", "already imported", "known transaction"])
    }

    /// The node refused the request itself (not its own trouble).
    #[cfg(feature = "evm")]
    pub(crate) fn is_refused(&self) -> bool {
        matches!(self, Self::Refused { .. })
    }

    /// The node says the transaction's nonce was used: by this very
    /// transaction (mined before) or by another one.
    pub(crate) fn is_nonce_used(&self) -> bool {
        self.message_has(&["nonce too low", "replay", "nonce already used"])
    }

    fn message_has(&self, needles: &[&str]) -> bool {
        let Self::Refused { message, .. } = self else {
            return false;
        };
        let message = message.to_ascii_lowercase();
        needles.iter().any(|needle| message.contains(needle))
    }
}

impl std::error::Error for RpcFault {}

impl fmt::Display for RpcFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused { code, message } => write!(f, "the node refused it ({code}): {message}"),
            Self::Unavailable(why) => write!(f, "the node is unavailable: {why}"),
        }
    }
}

/// A JSON-RPC client with one time limit per call.
#[derive(Clone)]
pub(crate) struct Rpc {
    client: RpcClient,
    timeout: Duration,
    /// The parts of the URL that may hold a secret (an API key in the
    /// path, the query or the user info), cut out of every fault's text.
    secrets: Vec<String>,
    /// The node's host and port (never a secret), for start-up errors.
    host: String,
    /// The node's URL, to make the client again with other roots.
    #[cfg(feature = "client")]
    url: Url,
}

impl fmt::Debug for Rpc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rpc")
            .field("host", &self.host)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Rpc {
    /// A client of the node at `url` (http or https), trusting `roots`
    /// besides the platform's.
    ///
    /// # Errors
    ///
    /// [`NodeError::TlsUnavailable`] for an https URL in a build
    /// without TLS, [`NodeError::InvalidRootCertificate`] when the
    /// HTTP client cannot be made with `roots`.
    pub(crate) fn new(url: Url, timeout: Duration, roots: &ExtraRoots) -> Result<Self, NodeError> {
        if url.scheme() == "https" && !HAS_TLS {
            return Err(NodeError::TlsUnavailable(host_of(&url)));
        }
        let http = roots
            .client()
            .map_err(|e| NodeError::InvalidRootCertificate(e.to_string()))?;
        Ok(Self {
            secrets: url_secrets(&url),
            host: host_of(&url),
            #[cfg(feature = "client")]
            url: url.clone(),
            client: ClientBuilder::default().http_with_client(http, url),
            timeout,
        })
    }

    /// Asks the node for its chain id at start-up, and checks it against
    /// `expected` when one was configured.
    ///
    /// # Errors
    ///
    /// [`NodeError::ChainIdUnavailable`] naming the node's host and
    /// why (unreachable, a TLS failure, a bad answer), or
    /// [`NodeError::ChainIdMismatch`].
    pub(crate) async fn check_chain_id(&self, expected: Option<u64>) -> Result<u64, NodeError> {
        let node = self
            .chain_id()
            .await
            .map_err(|fault| NodeError::ChainIdUnavailable(format!("{}: {fault}", self.host)))?;
        match expected {
            Some(configured) if configured != node => Err(NodeError::ChainIdMismatch {
                host: self.host.clone(),
                configured,
                node,
            }),
            _ => Ok(node),
        }
    }

    /// `fault` with every part of the node's URL that may be secret
    /// replaced: the HTTP client's errors name the URL they failed on.
    fn redact(&self, fault: RpcFault) -> RpcFault {
        let cut = |mut text: String| {
            for secret in &self.secrets {
                if text.contains(secret.as_str()) {
                    text = text.replace(secret.as_str(), "<rpc url>");
                }
            }
            text
        };
        match fault {
            RpcFault::Refused { code, message } => RpcFault::Refused {
                code,
                message: cut(message),
            },
            RpcFault::Unavailable(why) => RpcFault::Unavailable(cut(why)),
        }
    }

    /// The same node, trusting `roots` besides the platform's.
    #[cfg(feature = "client")]
    pub(crate) fn with_roots(self, roots: &ExtraRoots) -> Result<Self, NodeError> {
        Self::new(self.url, self.timeout, roots)
    }

    /// The same node with another time limit per call.
    #[cfg(feature = "client")]
    pub(crate) fn with_timeout(self, timeout: Duration) -> Self {
        Self { timeout, ..self }
    }

    async fn call<P, R>(&self, method: &'static str, params: P) -> Result<R, RpcFault>
    where
        P: serde::Serialize + Clone + Send + Sync + fmt::Debug + Unpin + 'static,
        R: DeserializeOwned + fmt::Debug + Send + Sync + Unpin + 'static,
    {
        let call = self.client.request::<P, R>(method, params);
        match tokio::time::timeout(self.timeout, call).await {
            Err(_) => Err(RpcFault::Unavailable(format!(
                "{method} took longer than {:?}",
                self.timeout
            ))),
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(self.redact(classify(error))),
        }
    }

    pub(crate) async fn chain_id(&self) -> Result<u64, RpcFault> {
        let id: U64 = self.call("eth_chainId", ()).await?;
        Ok(id.to::<u64>())
    }

    /// `eth_call` of `data` on `to` at the latest block.
    #[cfg_attr(not(feature = "tempo"), allow(dead_code))]
    pub(crate) async fn eth_call(&self, to: Address, data: Bytes) -> Result<Bytes, RpcFault> {
        let call = serde_json::json!({"to": to, "data": data});
        self.call("eth_call", (call, "latest")).await
    }

    pub(crate) async fn receipt(&self, hash: B256) -> Result<Option<Receipt>, RpcFault> {
        self.call("eth_getTransactionReceipt", (hash,)).await
    }

    /// Whether the node has the transaction `hash`, pending or mined.
    #[cfg(feature = "evm")]
    pub(crate) async fn has_transaction(&self, hash: B256) -> Result<bool, RpcFault> {
        let found: Option<serde_json::Value> =
            self.call("eth_getTransactionByHash", (hash,)).await?;
        Ok(found.is_some())
    }

    /// Broadcasts and waits for the receipt in one call.
    pub(crate) async fn send_sync(&self, raw: Bytes) -> Result<Receipt, RpcFault> {
        self.call("eth_sendRawTransactionSync", (raw,)).await
    }

    /// Broadcasts and returns the hash.
    pub(crate) async fn send(&self, raw: Bytes) -> Result<B256, RpcFault> {
        self.call("eth_sendRawTransaction", (raw,)).await
    }

    /// Broadcasts `raw` (whose hash is `hash`) and waits for its receipt:
    /// one round trip with `eth_sendRawTransactionSync`, else
    /// `eth_sendRawTransaction` and polling for up to `wait`. A node that
    /// already has the transaction (a retried broadcast) is not an error:
    /// the receipt may then be old (the caller checks when it was mined).
    /// A used nonce is one receipt lookup: this transaction, mined
    /// before, or a refusal (another transaction used it), never a wait.
    pub(crate) async fn broadcast(
        &self,
        raw: Bytes,
        hash: B256,
        wait: Duration,
    ) -> Result<Receipt, RpcFault> {
        let fault = match self.send_sync(raw.clone()).await {
            Ok(receipt) if receipt.transaction_hash == hash => return Ok(receipt),
            Ok(_) => RpcFault::Unavailable("a receipt for another transaction".to_owned()),
            Err(fault) => fault,
        };
        let fault = if fault.is_unknown_method() {
            self.send(raw).await.err()
        } else {
            Some(fault)
        };
        match fault {
            None => {}
            Some(fault) if fault.is_already_known() => {}
            Some(fault) if fault.is_nonce_used() => {
                return self.receipt(hash).await?.ok_or(fault);
            }
            Some(fault) => return Err(fault),
        }
        // Sent (now or before): wait for it to be mined.
        self.wait_receipt(hash, wait).await
    }

    /// Polls for the receipt of `hash`, a transaction the node has, for up
    /// to `wait`. Any trouble is the node's.
    pub(crate) async fn wait_receipt(
        &self,
        hash: B256,
        wait: Duration,
    ) -> Result<Receipt, RpcFault> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let receipt = self.receipt(hash).await.map_err(|fault| match fault {
                RpcFault::Refused { code, message } => {
                    RpcFault::Unavailable(format!("error {code}: {message}"))
                }
                unavailable @ RpcFault::Unavailable(_) => unavailable,
            })?;
            match receipt {
                Some(receipt) => return Ok(receipt),
                None if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(POLL_INTERVAL).await;
                }
                None => {
                    return Err(RpcFault::Unavailable(
                        "the transaction was not mined in time".to_owned(),
                    ));
                }
            }
        }
    }

    /// `eth_gasPrice`, in wei.
    #[cfg(feature = "evm")]
    pub(crate) async fn gas_price(&self) -> Result<u128, RpcFault> {
        let price: alloy_primitives::U128 = self.call("eth_gasPrice", ()).await?;
        Ok(price.to::<u128>())
    }

    /// `eth_maxPriorityFeePerGas`, in wei.
    #[cfg(feature = "evm")]
    pub(crate) async fn max_priority_fee(&self) -> Result<u128, RpcFault> {
        let tip: alloy_primitives::U128 = self.call("eth_maxPriorityFeePerGas", ()).await?;
        Ok(tip.to::<u128>())
    }

    /// The nonce `address`'s next transaction takes, counting the pool.
    #[cfg(feature = "evm")]
    pub(crate) async fn pending_nonce(&self, address: Address) -> Result<u64, RpcFault> {
        let nonce: U64 = self
            .call("eth_getTransactionCount", (address, "pending"))
            .await?;
        Ok(nonce.to::<u64>())
    }

    /// The timestamp (seconds) of block `number`.
    pub(crate) async fn block_timestamp(&self, number: U64) -> Result<u64, RpcFault> {
        let block: Option<BlockHeader> = self.call("eth_getBlockByNumber", (number, false)).await?;
        block
            .map(|b| b.timestamp.to::<u64>())
            .ok_or_else(|| RpcFault::Unavailable("no such block".to_owned()))
    }

    /// `eth_estimateGas` of a plain call from `from` (how a Tempo
    /// transaction's calls are simulated: nodes run them as ordinary
    /// calls). A call that would revert is `Refused`.
    pub(crate) async fn estimate_call(
        &self,
        from: Address,
        to: Address,
        data: &Bytes,
    ) -> Result<u64, RpcFault> {
        let call = serde_json::json!({"from": from, "to": to, "data": data});
        let gas: U64 = self.call("eth_estimateGas", (call,)).await?;
        Ok(gas.to::<u64>())
    }

    /// `eth_estimateGas` for a transaction request of any network.
    #[cfg(all(feature = "client", feature = "tempo"))]
    pub(crate) async fn estimate_gas<T>(&self, request: T) -> Result<u64, RpcFault>
    where
        T: serde::Serialize + Clone + Send + Sync + fmt::Debug + Unpin + 'static,
    {
        let gas: U64 = self.call("eth_estimateGas", (request,)).await?;
        Ok(gas.to::<u64>())
    }
}

/// `host:port` of `url` (the port when it is not the scheme's default).
fn host_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// The texts of `url` that may carry a secret, longest first: the whole
/// URL, then what follows the host, the query and the user info.
fn url_secrets(url: &Url) -> Vec<String> {
    let mut secrets = vec![url.as_str().to_owned()];
    // HTTP clients print the URL without its user info.
    let mut bare = url.clone();
    if bare.set_username("").is_ok() && bare.set_password(None).is_ok() {
        secrets.push(bare.as_str().to_owned());
    }
    let after_host = &url[url::Position::BeforePath..];
    if after_host.len() > 1 {
        secrets.push(after_host.to_owned());
    }
    if let Some(query) = url.query().filter(|q| !q.is_empty()) {
        secrets.push(query.to_owned());
    }
    if !url.username().is_empty() {
        secrets.push(url.username().to_owned());
    }
    if let Some(password) = url.password() {
        secrets.push(password.to_owned());
    }
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    secrets
}

fn classify(error: RpcError<TransportErrorKind>) -> RpcFault {
    match error {
        RpcError::ErrorResp(payload) if !NODE_TROUBLE.contains(&payload.code) => {
            RpcFault::Refused {
                code: payload.code,
                message: payload.message.into_owned(),
            }
        }
        RpcError::ErrorResp(payload) => {
            RpcFault::Unavailable(format!("error {}: {}", payload.code, payload.message))
        }
        RpcError::NullResp => RpcFault::Unavailable("an empty answer".to_owned()),
        RpcError::DeserError { .. } => RpcFault::Unavailable("an unreadable answer".to_owned()),
        // The sources say why a request failed (a TLS failure, a refused
        // connection): the transport's own text does not.
        RpcError::Transport(kind) => RpcFault::Unavailable(causes(&kind)),
        other => RpcFault::Unavailable(other.to_string()),
    }
}
