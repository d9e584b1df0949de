//! What the chain methods (`tempo`, `evm`) share and no chain owns: the
//! JSON-RPC client, signer recovery, `did:pkh` sources and the budget for
//! fees paid on clients' behalf.

pub(crate) mod budget;
pub(crate) mod did;
pub(crate) mod rpc;
pub(crate) mod signature;
pub(crate) mod wire;
