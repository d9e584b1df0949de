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

/// A payer opens a channel the way session clients do, with one 0x76
/// transaction (approve, then `open`), and the escrow reads it back: the
/// deposit held, nothing settled, the id the one we compute.
#[tokio::test]
async fn a_channel_opened_by_a_0x76_transaction_reads_back() {
    use alloy::primitives::{TxKind, U256};
    use tempo_alloy::contracts::precompiles::ITIP20;
    use tempo_alloy::primitives::transaction::Call;

    use crate::support::tempo_payer;

    let anvil = tokio::task::spawn_blocking(Anvil::start).await.unwrap();
    let escrow = escrow::deploy(&anvil).await;
    let payer = anvil.funded_payer(10_000_000).await;
    let recipient = Address::repeat_byte(0x33);
    let salt = B256::repeat_byte(0x07);
    let deposit: u128 = 2_500_000;

    let approve = Call {
        to: TxKind::Call(PATH_USD),
        value: U256::ZERO,
        input: ITIP20::approveCall {
            spender: escrow,
            amount: U256::from(deposit),
        }
        .abi_encode()
        .into(),
    };
    let open = Call {
        to: TxKind::Call(escrow),
        value: U256::ZERO,
        input: ITempoStreamChannel::openCall {
            payee: recipient,
            token: PATH_USD,
            deposit,
            salt,
            authorizedSigner: payer.address(),
        }
        .abi_encode()
        .into(),
    };
    let mut tx = tempo_payer::transaction(CHAIN_ID, vec![approve, open], PATH_USD, false);
    tx.gas_limit = 4_000_000;
    let signed = tempo_payer::sign(&payer, tx);
    assert_eq!(tempo_payer::raw(&signed)[0], 0x76);
    let hash: B256 = anvil
        .rpc(
            "eth_sendRawTransaction",
            serde_json::json!([tempo_payer::raw(&signed)]),
        )
        .await;
    let mut mined = None;
    for _ in 0..40 {
        let receipt: Option<serde_json::Value> = anvil
            .rpc("eth_getTransactionReceipt", serde_json::json!([hash]))
            .await;
        if receipt.is_some() {
            mined = receipt;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let receipt = mined.expect("the open was not mined in 10 s");
    assert_eq!(receipt["status"], "0x1", "the open reverted: {receipt}");

    let id = channel_id(
        payer.address(),
        recipient,
        PATH_USD,
        salt,
        payer.address(),
        escrow,
        CHAIN_ID,
    );
    let raw = call(
        &anvil,
        escrow,
        ITempoStreamChannel::getChannelCall { channelId: id }.abi_encode(),
    )
    .await;
    let channel = ITempoStreamChannel::getChannelCall::abi_decode_returns(&raw).unwrap();
    assert!(!channel.finalized);
    assert_eq!(channel.closeRequestedAt, 0);
    assert_eq!(channel.payer, payer.address());
    assert_eq!(channel.payee, recipient);
    assert_eq!(channel.token, PATH_USD);
    assert_eq!(channel.authorizedSigner, payer.address());
    assert_eq!(channel.deposit, deposit);
    assert_eq!(channel.settled, 0);
    assert_eq!(anvil.balance(PATH_USD, escrow).await, U256::from(deposit));
}
