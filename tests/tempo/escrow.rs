//! The session intent's building blocks against the deployed escrow
//! (`TempoStreamChannel`, the real bytecode): the channel id and the
//! voucher digest we compute are the contract's, and a voucher we check is
//! one it would settle.

use alloy::primitives::{Address, B256, Bytes};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use tower_mpp::tempo::session::{
    ITempoStreamChannel, channel_id, recover_voucher_signer, voucher_signing_hash,
};

use crate::support::anvil::{Anvil, CHAIN_ID, PATH_USD};
use crate::support::escrow;

async fn call(anvil: &Anvil, to: Address, data: Vec<u8>) -> Bytes {
    anvil
        .rpc(
            "eth_call",
            serde_json::json!([{"to": to, "data": Bytes::from(data)}, "latest"]),
        )
        .await
}

#[tokio::test]
async fn channel_ids_and_voucher_digests_are_the_contracts() {
    let anvil = tokio::task::spawn_blocking(Anvil::start).await.unwrap();
    let escrow = escrow::deploy(&anvil).await;
    let payer = PrivateKeySigner::random().address();
    let recipient = Address::repeat_byte(0x22);
    let signer = PrivateKeySigner::random();
    let salt = B256::repeat_byte(0x5a);

    let theirs = call(
        &anvil,
        escrow,
        ITempoStreamChannel::computeChannelIdCall {
            payer,
            payee: recipient,
            token: PATH_USD,
            salt,
            authorizedSigner: signer.address(),
        }
        .abi_encode(),
    )
    .await;
    let ours = channel_id(
        payer,
        recipient,
        PATH_USD,
        salt,
        signer.address(),
        escrow,
        CHAIN_ID,
    );
    assert_eq!(theirs.as_ref(), ours.as_slice());

    for amount in [0u128, 1, 1_000_000, u128::MAX] {
        let digest = call(
            &anvil,
            escrow,
            ITempoStreamChannel::getVoucherDigestCall {
                channelId: ours,
                cumulativeAmount: amount,
            }
            .abi_encode(),
        )
        .await;
        let hash = voucher_signing_hash(CHAIN_ID, escrow, ours, amount);
        assert_eq!(digest.as_ref(), hash.as_slice(), "{amount}");
        let signature = signer.sign_hash_sync(&hash).unwrap();
        assert_eq!(
            recover_voucher_signer(&signature.as_bytes(), &hash),
            Ok(signer.address())
        );
    }
}
