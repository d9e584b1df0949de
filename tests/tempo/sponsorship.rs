//! Fee sponsorship: the server co-signs as fee payer and really pays the
//! fees.

use alloy::primitives::{Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolEvent;
use tempo_alloy::contracts::precompiles::ITIP20;

use crate::common::{Env, PRICE};
use crate::support::anvil::{DEV_KEY_1, PATH_USD};
use crate::support::tempo_payer::{credential, honest, pull_payload, push_payload};
use tower_mpp::tempo::FeeLimits;

fn sponsor() -> PrivateKeySigner {
    DEV_KEY_1.parse().unwrap()
}

/// The fee `Transfer`s of a receipt: (from, amount) of transfers to the
/// fee manager.
fn fee_transfers(receipt: &serde_json::Value) -> Vec<(Address, U256)> {
    let mut out = Vec::new();
    for log in receipt["logs"].as_array().unwrap() {
        let topics: Vec<B256> = log["topics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().parse().unwrap())
            .collect();
        let data: alloy::primitives::Bytes = log["data"].as_str().unwrap().parse().unwrap();
        if let Ok(event) = ITIP20::Transfer::decode_raw_log(topics, &data)
            && event
                .to
                .as_slice()
                .starts_with(&crate::support::anvil::FEE_MANAGER_PREFIX)
        {
            out.push((event.from, event.amount));
        }
    }
    out
}

#[tokio::test]
async fn the_sponsor_pays_the_fees_and_the_payer_only_the_price() {
    let env = Env::start_with(|b| b.fee_payer_key(DEV_KEY_1)).await;
    // The payer holds exactly the price: it could not pay any fee.
    let payer = PrivateKeySigner::random();
    env.anvil.fund(payer.address(), PATH_USD, PRICE).await;
    let challenge = env.challenge("/paid").await;
    let details = &challenge.request.object()["methodDetails"];
    assert_eq!(details["feePayer"], true);
    assert_eq!(details["supportedModes"], serde_json::json!(["pull"]));
    let signed = honest(&payer, &challenge, true);
    let auth = credential(&challenge, pull_payload(&signed, payer.address()), None);

    let receipt = env.get("/paid", Some(&auth)).await.assert_paid();

    assert_eq!(env.path_usd(payer.address()).await, U256::ZERO);
    assert_eq!(env.path_usd(env.recipient).await, U256::from(PRICE));
    let on_chain: serde_json::Value = env
        .anvil
        .rpc(
            "eth_getTransactionReceipt",
            serde_json::json!([receipt.reference]),
        )
        .await;
    let fees = fee_transfers(&on_chain);
    assert!(!fees.is_empty(), "no fee transfer in {on_chain}");
    assert!(
        fees.iter()
            .all(|(from, amount)| *from == sponsor().address() && !amount.is_zero())
    );
}

#[tokio::test]
async fn sponsorship_refuses_hashes_self_paid_transactions_and_costly_ones() {
    let env = Env::start_with(|b| {
        b.fee_payer_key(DEV_KEY_1).fee_limits(FeeLimits {
            max_gas: 500_000,
            ..FeeLimits::default()
        })
    })
    .await;
    let payer = env.anvil.funded_payer(1_000_000).await;
    let challenge = env.challenge("/paid").await;
    // A hash credential for a sponsored charge.
    let auth = credential(&challenge, push_payload(B256::repeat_byte(1)), None);
    let detail = env
        .get("/paid", Some(&auth))
        .await
        .assert_rejected(402, "verification-failed");
    assert!(detail.contains("sponsored"), "{detail}");
    // A transaction that pays its own fees: not prepared for a sponsor.
    let own = honest(&payer, &challenge, false);
    let auth = credential(&challenge, pull_payload(&own, payer.address()), None);
    env.get("/paid", Some(&auth))
        .await
        .assert_rejected(402, "verification-failed");
    // Gas above what the server sponsors (the helper asks for 1,000,000).
    let costly = honest(&payer, &challenge, true);
    let auth = credential(&challenge, pull_payload(&costly, payer.address()), None);
    let detail = env
        .get("/paid", Some(&auth))
        .await
        .assert_rejected(402, "verification-failed");
    assert!(detail.contains("exceed"), "{detail}");
    assert_eq!(env.handled(), 0);
    // A price that turns sponsorship off takes a self-paid transaction.
    let unsponsored = env.challenge("/unsponsored").await;
    assert!(
        unsponsored.request.object()["methodDetails"]
            .get("feePayer")
            .is_none()
    );
    let own = honest(&payer, &unsponsored, false);
    let auth = credential(&unsponsored, pull_payload(&own, payer.address()), None);
    env.get("/unsponsored", Some(&auth)).await.assert_paid();
}
