//! What the chain methods (`tempo`, `evm`) share and no chain owns: the
//! JSON-RPC client, signer recovery, `did:pkh` sources and the budget for
//! fees paid on clients' behalf.

pub(crate) mod budget;
pub(crate) mod did;
pub(crate) mod rpc;
pub(crate) mod signature;
pub(crate) mod wire;

use std::time::Duration;

/// How long a transaction hash stays claimed when the transfer names no
/// challenge (a Tempo transfer with a memo of its own, an EVM
/// `transaction` or `hash`): only the claim stops it paying twice.
pub(crate) const TX_CLAIM_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long a method's claims outlive the challenge they answer.
pub(crate) const CLAIM_MARGIN: Duration = Duration::from_secs(60);
/// What a `503` asks the client to wait when the node is unavailable.
pub(crate) const RETRY_AFTER: Duration = Duration::from_secs(2);
