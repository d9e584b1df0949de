//! tower-mpp and the `mpp` crate (mpp-rs 0.18), configured alike, for the
//! side-by-side benchmarks (`benches/compare.rs`), the load server
//! (`src/bin/load_server.rs`) and the profile (`src/bin/profile.rs`).
//!
//! Both sides use the same realm, HMAC secret, recipient, currency, chain
//! id (1337) and prices: 0.01 (10,000 base units, answered with 402) and
//! zero (paid with an EIP-712 proof credential, which no chain has to
//! confirm). [`app`] serves every route of both sides in one axum router,
//! so route lookup and the handler are the same work everywhere.

mod ours;
mod rpc_stub;
mod theirs;

use alloy_primitives::{Address, hex};
use alloy_signer::SignerSync as _;
use alloy_signer_local::PrivateKeySigner;
use axum::Router;
use axum::routing::get;

pub use ours::{Ours, two_offers as ours_two_offers};
pub use rpc_stub::spawn_rpc_stub;
pub use theirs::{TempoMpp, Theirs, two_offers as theirs_two_offers};

/// The realm both servers name in their challenges.
pub const REALM: &str = "bench.example.com";
/// The HMAC secret both servers bind challenge ids with.
pub const SECRET: &str = "a benchmark secret of at least 32 bytes";
/// Who is paid.
pub const RECIPIENT: &str = "0x742d35Cc6634C0532925a3b844Bc9e7595f8fE00";
/// The chain both sides name (and the RPC stub reports).
pub const CHAIN_ID: u64 = 1337;
/// The currency of the first offer (`PathUSD`).
pub const PATH_USD: &str = "0x20c0000000000000000000000000000000000000";
/// The currency of the second offer, where a route has two (USDC.e).
pub const USDC_E: &str = "0x20C000000000000000000000b9537d11c60E8b50";
/// The payer's key: anvil's well-known first development key.
const PAYER_KEY: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

/// The handler behind every route, paid or not.
pub async fn hello() -> &'static str {
    "hello"
}

/// The routes: `/bare`, `/bare/402`, then
/// `/{ours,mpp}/{layer,axum}/{paid,proof}`. `/bare/402` answers a canned
/// copy of one of our 402 responses (same status, headers and body) with
/// no payment code: the cost of sending those bytes, for scale. `layer`
/// routes are behind each side's fixed-price tower layer, `axum` routes use
/// each side's per-route extractor; `paid` costs 0.01 (a request without a
/// credential gets a 402), `proof` costs zero.
pub const ROUTES: [&str; 10] = [
    "/bare",
    "/bare/402",
    "/ours/layer/paid",
    "/ours/layer/proof",
    "/ours/axum/paid",
    "/ours/axum/proof",
    "/mpp/layer/paid",
    "/mpp/layer/proof",
    "/mpp/axum/paid",
    "/mpp/axum/proof",
];

/// Every route of both sides in one router.
pub fn app(ours: &Ours, theirs: &Theirs) -> Router {
    let canned = ours.canned_402();
    Router::new()
        .route("/bare", get(hello))
        .route("/bare/402", get(move || std::future::ready(canned.clone())))
        .merge(ours.routes())
        .merge(theirs.routes())
}

/// A fresh, valid proof credential (`Authorization` value) for one of the
/// `/…/proof` routes of [`ROUTES`], or `None` for any other path.
pub fn proof_credential(ours: &Ours, theirs: &Theirs, payer: &Payer, path: &str) -> Option<String> {
    Some(match path {
        "/ours/layer/proof" | "/ours/axum/proof" => ours.proof_credential(payer, path),
        "/mpp/layer/proof" => theirs.layer_proof_credential(payer),
        "/mpp/axum/proof" => theirs.axum_proof_credential(payer, path),
        _ => return None,
    })
}

/// The client side of a proof: signs the EIP-712 `Proof` of a challenge,
/// as mppx and the `mpp` client do.
#[derive(Debug, Clone)]
pub struct Payer {
    signer: PrivateKeySigner,
}

impl Default for Payer {
    fn default() -> Self {
        Self {
            signer: PAYER_KEY.parse().expect("a valid development key"),
        }
    }
}

impl Payer {
    /// The payer's address.
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// The credential's `source`: `did:pkh:eip155:1337:<address>`.
    pub fn source(&self) -> String {
        tower_mpp::tempo::did_pkh(CHAIN_ID, self.address())
    }

    /// The `0x`-hex signature of the proof for `challenge_id` from `realm`.
    pub fn sign_proof(&self, challenge_id: &str, realm: &str) -> String {
        let hash =
            tower_mpp::tempo::proof_signing_hash(CHAIN_ID, self.address(), challenge_id, realm);
        let signature = self
            .signer
            .sign_hash_sync(&hash)
            .expect("a local key signs");
        hex::encode_prefixed(signature.as_bytes())
    }
}
