//! The paying side (feature `client`): answers `402 Payment Required` by
//! paying one of the server's challenges and retrying with the credential.
//!
//! - [`PaymentProvider`] pays a challenge; [`TempoProvider`] (with the
//!   `tempo` feature) pays Tempo charges in pull, push or proof mode;
//!   [`MultiProvider`] routes challenges to several providers by method
//!   and intent; implement the trait for your own methods.
//! - [`PaymentExt::send_with_payment`] on `reqwest::RequestBuilder` sends,
//!   pays a `402` and retries once; [`PaymentMiddleware`] (feature
//!   `middleware`) does it for every request of a `reqwest_middleware`
//!   client. [`ReceiptExt::payment_receipt`] reads the receipt.
//! - [`mcp::McpPayer`] (feature `mcp`) pays the priced tools of an MCP
//!   server through an rmcp client.
//! - [`SpendingPolicy`] caps amounts per request and in total, and limits
//!   currencies, recipients and chains, before anything is signed
//!   ([`WithPolicy::with_policy`]).
//!
//! The exchange keeps what the spec asks of clients: no credential over
//! plain HTTP (loopback aside), none for a `402` reached through a
//! redirect to another origin, none for an expired challenge or one bound
//! to another body; the body is resent byte for byte; one `Authorization`
//! header on the retry.
//!
//! ```no_run
//! # #[cfg(feature = "tempo")]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use tower_mpp::client::{
//!     PaymentExt, PrivateKeySigner, ReceiptExt, SpendingPolicy, TempoProvider, WithPolicy,
//! };
//!
//! const PATH_USD: &str = "0x20c0000000000000000000000000000000000000";
//! let signer: PrivateKeySigner = std::env::var("PAYER_KEY")?.parse()?;
//! let provider = TempoProvider::new(signer, "https://rpc.tempo.xyz")?
//!     .with_policy(SpendingPolicy::new().max_per_request(PATH_USD, 100_000));
//! let response = reqwest::Client::new()
//!     .get("https://api.example.com/paid")
//!     .send_with_payment(&provider)
//!     .await?;
//! if let Some(receipt) = response.payment_receipt() {
//!     println!("paid: {}", receipt?.reference);
//! }
//! # Ok(()) }
//! ```

mod choose;
mod error;
#[cfg(feature = "evm")]
mod evm;
mod fetch;
#[cfg(feature = "mcp")]
pub mod mcp;
#[cfg(feature = "reqwest-middleware")]
mod middleware;
mod multi;
#[cfg(any(feature = "tempo", feature = "evm"))]
mod node;
mod policy;
mod provider;
#[cfg(feature = "tempo")]
mod session;
#[cfg(feature = "tempo")]
mod tempo;

/// The signer a [`TempoProvider`] or an `EvmProvider` takes by default (a
/// secp256k1 key).
#[cfg(any(feature = "tempo", feature = "evm"))]
pub use alloy_signer_local::PrivateKeySigner;
pub use error::{ClientError, PayError, PolicyViolation};
#[cfg(feature = "evm")]
pub use evm::EvmProvider;
pub use fetch::{PaymentExt, ReceiptExt};
#[cfg(feature = "reqwest-middleware")]
pub use middleware::PaymentMiddleware;
pub use multi::MultiProvider;
pub use policy::{Limited, Reservation, SpendingPolicy, WithPolicy};
pub use provider::PaymentProvider;
#[cfg(feature = "tempo")]
pub use session::{
    ChannelBook, ChannelRecord, DEFAULT_MAX_DEPOSIT, FileBook, MemoryBook, SessionEvent,
    SessionEvents, TempoSessionProvider,
};
#[cfg(feature = "tempo")]
pub use tempo::TempoProvider;
