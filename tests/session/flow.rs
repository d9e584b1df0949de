//! Open, vouchers, management requests, top-up and close, through the app.

use alloy::primitives::U256;
use http::Method;

use crate::common::{Chain, PRICE, field};

/// A session from open to close: the 402 offers charge and session side by
/// side; the open pays the first request; vouchers pay the next ones (on
/// the route, and as management requests that never run the handler);
/// a metered route debits `units x price`; the close settles on chain
/// exactly what was spent and refunds the rest.
// One story, told in order.
#[allow(clippy::too_many_lines)]
#[tokio::test]
async fn open_vouchers_top_up_and_close_settle_exactly_what_was_spent() {
    let chain = Chain::start().await;
    let app = chain.app();
    let channel = chain.channel().await;
    let receiver_before = chain.balance(chain.payee.address()).await;

    let reply = app.send(Method::GET, "/paid", None).await;
    assert_eq!(reply.status, 402);
    let intents: Vec<_> = reply
        .challenges()
        .iter()
        .map(|c| c.intent.clone())
        .collect();
    assert_eq!(intents, ["charge", "session"], "offered side by side");
    let challenge = crate::common::session_challenge(&reply);
    let request = challenge.request.object();
    assert_eq!(request["amount"], PRICE.to_string());
    assert_eq!(request["unitType"], "request");
    assert_eq!(request["suggestedDeposit"], "1000000");
    assert_eq!(request["methodDetails"]["sessionProtocol"], "v1");
    assert_eq!(
        request["methodDetails"]["escrowContract"]
            .as_str()
            .unwrap()
            .to_lowercase(),
        chain.escrow.to_string().to_lowercase()
    );

    // Open with a first voucher covering the first request.
    let deposit = 100_000;
    let reply = app
        .pay("/paid", &challenge, channel.open_payload(deposit, PRICE))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.text(), "served");
    let receipt = reply.receipt().unwrap();
    assert_eq!(receipt.reference, channel.id.to_string());
    assert_eq!(field(&reply, "intent"), "session");
    assert_eq!(field(&reply, "channelId"), channel.id.to_string());
    assert_eq!(field(&reply, "acceptedCumulative"), PRICE.to_string());
    assert_eq!(field(&reply, "spent"), PRICE.to_string());
    assert_eq!(field(&reply, "challengeId"), challenge.id);
    assert!(
        receipt.extra.contains_key("txHash"),
        "the open's transaction"
    );
    let on_chain = chain.read(channel.id).await;
    assert_eq!(on_chain.deposit, deposit);
    assert_eq!(on_chain.payer, channel.payer.address());

    // Vouchers on the route, reusing the same challenge.
    for i in 2..=4u128 {
        let reply = app
            .pay("/paid", &challenge, channel.voucher_payload(i * PRICE))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(field(&reply, "spent"), (i * PRICE).to_string());
        assert_eq!(field(&reply, "units"), "1");
    }
    assert_eq!(app.handled(), 4);

    // A management voucher (body-less POST, HEAD): the channel grows, the
    // handler does not run, nothing is spent.
    let reply = app
        .manage("/paid", &challenge, channel.voucher_payload(10 * PRICE))
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text());
    assert_eq!(
        field(&reply, "acceptedCumulative"),
        (10 * PRICE).to_string()
    );
    assert_eq!(field(&reply, "spent"), (4 * PRICE).to_string());
    let auth =
        crate::support::session_payer::credential(&challenge, channel.voucher_payload(11 * PRICE));
    let reply = app.send(Method::HEAD, "/paid", Some(&auth)).await;
    assert_eq!(reply.status, 204);
    assert_eq!(
        field(&reply, "acceptedCumulative"),
        (11 * PRICE).to_string()
    );
    assert_eq!(
        app.handled(),
        4,
        "management requests never reach the handler"
    );

    // A metered route: 5 units at once, from what the vouchers allow; the
    // same voucher again is a retry that pays from what is left.
    let tokens = app.challenge("/tokens?n=5").await;
    let reply = app
        .pay("/tokens?n=5", &tokens, channel.voucher_payload(11 * PRICE))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(field(&reply, "spent"), (9 * PRICE).to_string());
    assert_eq!(field(&reply, "units"), "5");
    // Only the session is offered where units are metered.
    let metered = app.send(Method::GET, "/tokens?n=5", None).await;
    assert!(metered.challenges().iter().all(|c| c.intent == "session"));

    // Top-up as a management request: the deposit grows on chain and in
    // the store.
    let reply = app
        .manage("/paid", &challenge, channel.top_up_payload(50_000))
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text());
    assert!(reply.receipt().unwrap().extra.contains_key("txHash"));
    assert_eq!(chain.read(channel.id).await.deposit, deposit + 50_000);
    // A voucher above the old deposit now passes.
    let reply = app
        .manage("/paid", &challenge, channel.voucher_payload(120_000))
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text());

    // Close: a final voucher below what was spent is refused; one of
    // exactly what was spent settles it, whatever was authorized before,
    // and refunds the rest.
    let spent = 9 * PRICE;
    let reply = app
        .manage("/paid", &challenge, channel.close_payload(spent - 1))
        .await;
    reply.assert_rejected(402, "delta-too-small");
    let payer_before = chain.balance(channel.payer.address()).await;
    let escrow_before = chain.balance(chain.escrow).await;
    let reply = app
        .manage("/paid", &challenge, channel.close_payload(spent))
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text());
    assert!(reply.receipt().unwrap().extra.contains_key("txHash"));
    assert_eq!(field(&reply, "spent"), spent.to_string());
    let closed = chain.read(channel.id).await;
    assert!(
        closed.finalized || closed.payer.is_zero(),
        "closed on chain"
    );
    assert_eq!(
        chain.balance(channel.payer.address()).await - payer_before,
        U256::from(deposit + 50_000 - spent),
        "the payer gets back all it did not spend"
    );
    assert_eq!(
        escrow_before - chain.balance(chain.escrow).await,
        U256::from(deposit + 50_000)
    );
    let payee_after = chain.balance(chain.payee.address()).await;
    // The payee got what was spent, less the fees of its close.
    assert!(payee_after > receiver_before + U256::from(spent) - U256::from(100_000));

    // The closed channel serves nothing more.
    let reply = app
        .pay("/paid", &challenge, channel.voucher_payload(130_000))
        .await;
    reply.assert_rejected(410, "channel-finalized");
}

/// Closing an untouched channel at 0 is allowed and refunds everything.
#[tokio::test]
async fn an_untouched_channel_closes_at_zero() {
    let chain = Chain::start().await;
    let app = chain.app();
    let channel = chain.channel().await;
    let challenge = app.challenge("/paid").await;
    let reply = app
        .manage("/paid", &challenge, channel.open_payload(20_000, 0))
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text());
    assert_eq!(field(&reply, "acceptedCumulative"), "0");
    let before = chain.balance(channel.payer.address()).await;
    let reply = app
        .manage("/paid", &challenge, channel.close_payload(0))
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text());
    assert_eq!(
        chain.balance(channel.payer.address()).await - before,
        U256::from(20_000)
    );
    assert_eq!(app.handled(), 0);
}
