//! The v1 escrow contract, `TempoStreamChannel`, as deployed.

use alloy_primitives::{Address, B256, address, keccak256};
use alloy_sol_types::{SolValue, sol};

/// The escrow on Tempo mainnet (chain 4217).
pub const MAINNET_ESCROW: Address = address!("33b901018174DDabE4841042ab76ba85D4e24f25");
/// The escrow on Tempo's testnet.
pub const TESTNET_ESCROW: Address = address!("e1c4d3dce17bc111181ddf716f75bae49e61a336");

sol! {
    /// The functions of the deployed `TempoStreamChannel` this crate calls
    /// or checks. Where the draft's reference listing differs, the deployed
    /// contract wins: `topUp` takes a `uint256`, and `getChannel` returns
    /// its fields in this order.
    #[allow(missing_docs)]
    #[derive(Debug)]
    interface ITempoStreamChannel {
        function open(address payee, address token, uint128 deposit, bytes32 salt, address authorizedSigner) external returns (bytes32 channelId);
        function topUp(bytes32 channelId, uint256 additionalDeposit) external;
        function settle(bytes32 channelId, uint128 cumulativeAmount, bytes signature) external;
        function close(bytes32 channelId, uint128 cumulativeAmount, bytes signature) external;
        function requestClose(bytes32 channelId) external;
        function withdraw(bytes32 channelId) external;
        function getChannel(bytes32 channelId) external view returns (bool finalized, uint64 closeRequestedAt, address payer, address payee, address token, address authorizedSigner, uint128 deposit, uint128 settled);
        function computeChannelId(address payer, address payee, address token, bytes32 salt, address authorizedSigner) external view returns (bytes32);
        function getVoucherDigest(bytes32 channelId, uint128 cumulativeAmount) external view returns (bytes32);
        function CLOSE_GRACE_PERIOD() external view returns (uint64);
    }
}

/// The id the escrow gives a channel:
/// `keccak256(abi.encode(payer, payee, token, salt, authorizedSigner,
/// escrow, chainId))`, as its `computeChannelId`.
// The contract's own parameter names (payer, payee).
#[allow(clippy::similar_names)]
pub fn channel_id(
    payer: Address,
    payee: Address,
    token: Address,
    salt: B256,
    authorized_signer: Address,
    escrow: Address,
    chain_id: u64,
) -> B256 {
    let chain_id = alloy_primitives::U256::from(chain_id);
    keccak256(
        (
            payer,
            payee,
            token,
            salt,
            authorized_signer,
            escrow,
            chain_id,
        )
            .abi_encode(),
    )
}
