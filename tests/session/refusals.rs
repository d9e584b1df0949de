//! Every refusal the spec lists: each answers its problem type with a fresh
//! challenge (402) or 410, never a receipt, and never runs the handler.

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use tower_mpp::tempo::session::{ITempoStreamChannel, SettleThreshold};

use crate::common::{Chain, PRICE, field, session_challenge};
use crate::support::anvil::ALPHA_USD;
use crate::support::session_payer::{self, voucher_like};

#[tokio::test]
async fn vouchers_that_do_not_pay_are_refused_with_the_specs_problems() {
    let chain = Chain::start().await;
    let app = chain.app();
    let channel = chain.channel().await;
    let challenge = app.challenge("/paid").await;
    let reply = app
        .pay("/paid", &challenge, channel.open_payload(10 * PRICE, PRICE))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());

    // Signed by someone else.
    let stranger = PrivateKeySigner::random();
    let forged = voucher_like(
        "voucher",
        channel.id,
        2 * PRICE,
        &channel.voucher_by(&stranger, 2 * PRICE),
    );
    app.pay("/paid", &challenge, forged)
        .await
        .assert_rejected(402, "signer-mismatch");
    // Lower than accepted.
    app.pay("/paid", &challenge, channel.voucher_payload(0))
        .await
        .assert_rejected(402, "delta-too-small");
    // The same amount again: an idempotent retry, but nothing is left.
    let reply = app
        .pay("/paid", &challenge, channel.voucher_payload(PRICE))
        .await;
    let detail = reply.assert_rejected(402, "insufficient-balance");
    assert!(detail.contains(&channel.id.to_string()), "{detail}");
    let fresh = session_challenge(&reply);
    assert_ne!(fresh.id, challenge.id, "a fresh challenge");
    assert_eq!(
        fresh.request.object()["methodDetails"]["channelId"],
        channel.id.to_string(),
        "the fresh challenge names the channel to go on with"
    );
    // Above the deposit.
    app.pay("/paid", &challenge, channel.voucher_payload(11 * PRICE))
        .await
        .assert_rejected(402, "amount-exceeds-deposit");
    // The malleable twin of a valid signature.
    let good = channel.voucher(2 * PRICE);
    let mut twin = good.to_vec();
    let order = U256::from_str_radix(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141",
        16,
    )
    .unwrap();
    let s = U256::from_be_slice(&twin[32..64]);
    twin[32..64].copy_from_slice(&(order - s).to_be_bytes::<32>());
    twin[64] = if twin[64] == 27 { 28 } else { 27 };
    app.pay(
        "/paid",
        &challenge,
        voucher_like("voucher", channel.id, 2 * PRICE, &Bytes::from(twin)),
    )
    .await
    .assert_rejected(402, "invalid-signature");
    // A channel that does not exist.
    let unknown = B256::repeat_byte(0x99);
    app.pay(
        "/paid",
        &challenge,
        voucher_like("voucher", unknown, PRICE, &channel.voucher(PRICE)),
    )
    .await
    .assert_rejected(410, "channel-not-found");
    // Not enough for five units: refused, but the voucher stays accepted.
    let tokens = app.challenge("/tokens?n=5").await;
    app.pay("/tokens?n=5", &tokens, channel.voucher_payload(3 * PRICE))
        .await
        .assert_rejected(402, "insufficient-balance");
    let reply = app
        .manage("/paid", &challenge, channel.voucher_payload(3 * PRICE))
        .await;
    assert_eq!(reply.status, 204);
    assert_eq!(field(&reply, "acceptedCumulative"), (3 * PRICE).to_string());
    assert_eq!(field(&reply, "spent"), PRICE.to_string());
    // A management request with a forged voucher is refused with a fresh
    // challenge too.
    let forged = voucher_like(
        "voucher",
        channel.id,
        4 * PRICE,
        &channel.voucher_by(&stranger, 4 * PRICE),
    );
    app.manage("/paid", &challenge, forged)
        .await
        .assert_rejected(402, "signer-mismatch");
    assert_eq!(app.handled(), 1, "only the open's request was served");
    // The fresh challenge naming the channel pays like the first one.
    let reply = app
        .pay("/paid", &fresh, channel.voucher_payload(4 * PRICE))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(app.handled(), 2);
}

/// Open transactions that do not open a channel paying this server are
/// refused before anything is broadcast.
#[tokio::test]
async fn tampered_open_transactions_are_refused_before_broadcast() {
    let chain = Chain::start().await;
    let app = chain.app();
    let channel = chain.channel().await;
    let challenge = app.challenge("/paid").await;
    let deposit = 10 * PRICE;

    // Paying another payee (with the id of that channel).
    let mut elsewhere = channel.clone();
    elsewhere.payee = Address::repeat_byte(0x77);
    elsewhere.id = tower_mpp::tempo::session::channel_id(
        channel.payer.address(),
        elsewhere.payee,
        channel.token,
        channel.salt,
        channel.payer.address(),
        channel.escrow,
        channel.chain_id,
    );
    app.pay("/paid", &challenge, elsewhere.open_payload(deposit, PRICE))
        .await
        .assert_rejected(402, "verification-failed");
    // In another token.
    let mut alpha = channel.clone();
    alpha.token = ALPHA_USD;
    app.pay("/paid", &challenge, alpha.open_payload(deposit, PRICE))
        .await
        .assert_rejected(402, "verification-failed");
    // The payload names another channel than the transaction opens.
    let mut renamed = channel.clone();
    renamed.id = B256::repeat_byte(0x12);
    let tx = channel.transaction(channel.open_calls(deposit));
    app.pay("/paid", &challenge, renamed.open_payload_with(&tx, PRICE))
        .await
        .assert_rejected(402, "verification-failed");
    // An extra call smuggled in.
    let mut calls = channel.open_calls(deposit);
    calls.push(session_payer::approve(
        channel.token,
        Address::repeat_byte(0x66),
        1_000_000,
    ));
    let tx = channel.transaction(calls);
    app.pay("/paid", &challenge, channel.open_payload_with(&tx, PRICE))
        .await
        .assert_rejected(402, "verification-failed");
    // A first voucher signed by someone else.
    let mut payload = channel.open_payload(deposit, PRICE);
    let stranger = PrivateKeySigner::random();
    payload.insert(
        "signature".into(),
        channel.voucher_by(&stranger, PRICE).to_string().into(),
    );
    app.pay("/paid", &challenge, payload)
        .await
        .assert_rejected(402, "signer-mismatch");
    // A first voucher above the deposit.
    let mut payload = channel.open_payload(deposit, deposit + 1);
    payload.insert(
        "signature".into(),
        channel.voucher(deposit + 1).to_string().into(),
    );
    app.pay("/paid", &challenge, payload)
        .await
        .assert_rejected(402, "amount-exceeds-deposit");

    assert!(
        chain.read(channel.id).await.payer.is_zero(),
        "nothing was opened"
    );
    assert_eq!(chain.balance(chain.escrow).await, U256::ZERO);
    assert_eq!(app.handled(), 0);

    // The honest open still works, once.
    let reply = app
        .pay("/paid", &challenge, channel.open_payload(deposit, PRICE))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    // A retried open is its voucher: no second broadcast, no second debit
    // beyond what the voucher allows.
    let reply = app
        .pay("/paid", &challenge, channel.open_payload(deposit, PRICE))
        .await;
    reply.assert_rejected(402, "insufficient-balance");
    assert_eq!(chain.balance(chain.escrow).await, U256::from(deposit));
}

/// A payer who asks the escrow for a forced close is no longer served; the
/// watcher notices it and settles what was consumed before the grace
/// period ends.
#[tokio::test]
async fn a_forced_close_request_stops_service_and_is_settled_at_once() {
    let chain = Chain::start().await;
    let app = chain.app();
    let channel = chain.channel().await;
    let challenge = app.challenge("/paid").await;
    let reply = app
        .pay("/paid", &challenge, channel.open_payload(10 * PRICE, PRICE))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let reply = app
        .pay("/paid", &challenge, channel.voucher_payload(2 * PRICE))
        .await;
    assert_eq!(reply.status, 200);

    // The payer asks the escrow directly.
    let tx = channel.transaction(vec![session_payer::call(
        chain.escrow,
        ITempoStreamChannel::requestCloseCall {
            channelId: channel.id,
        }
        .abi_encode(),
    )]);
    crate::common::send_raw(&chain, &tx).await;
    assert_ne!(chain.read(channel.id).await.closeRequestedAt, 0);

    let report = app
        .session
        .settle_once(SettleThreshold::base_units(u128::MAX))
        .await;
    assert_eq!(report.close_requested, vec![channel.id]);
    assert_eq!(report.settled.len(), 1, "{report:?}");
    assert_eq!(report.settled[0].1, 2 * PRICE);
    assert_eq!(chain.read(channel.id).await.settled, 2 * PRICE);

    app.pay("/paid", &challenge, channel.voucher_payload(4 * PRICE))
        .await
        .assert_rejected(410, "channel-finalized");
    assert_eq!(app.handled(), 2);
}
