//! `type="permit2"`: Permit2 `permit[Batch]WitnessTransferFrom` on the
//! canonical Permit2, the witness naming the challenge, splits in order.

use alloy::primitives::{Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use serde_json::json;
use tower_mpp::evm::Permit2Transfer;

use crate::common::{
    Env, PRICE, authorization_payload, credential, good_authorization, good_permit, now,
    permit2_payload,
};

#[tokio::test]
async fn evm_permit2_pays_and_its_nonce_pays_once() {
    let env = Env::start().await;
    let payer = env.chain.funded_payer(2 * PRICE).await;
    env.chain.approve_permit2(payer.address()).await;
    let challenge = env.challenge().await;
    assert_eq!(
        Env::details(&challenge)["spender"],
        json!(env.method.gas_payer().unwrap().to_checksum(None))
    );
    let permit = good_permit(&env, &challenge, 1);
    let details = [(env.recipient, U256::from(PRICE))];
    let header = credential(
        &challenge,
        permit2_payload(&payer, &permit, &details),
        Some(payer.address()),
    );
    env.get(Some(&header)).await.assert_paid();
    assert_eq!(env.chain.balance(env.recipient).await, U256::from(PRICE));
    // The same Permit2 nonce signed again for a new challenge: refused.
    let second = env.challenge().await;
    let again = good_permit(&env, &second, 1);
    let header = credential(
        &second,
        permit2_payload(&payer, &again, &details),
        Some(payer.address()),
    );
    env.get(Some(&header))
        .await
        .assert_rejected(402, "invalid-challenge");
    assert_eq!(env.chain.balance(env.recipient).await, U256::from(PRICE));
    assert_eq!(env.handled(), 1);
}

#[tokio::test]
async fn evm_permit2_refuses_what_the_draft_refuses() {
    let env = Env::start().await;
    let payer = env.chain.funded_payer(PRICE).await;
    let unapproved = env.chain.funded_payer(PRICE).await;
    env.chain.approve_permit2(payer.address()).await;
    let challenge = env.challenge().await;
    let good = good_permit(&env, &challenge, 7);
    let details = vec![(env.recipient, U256::from(PRICE))];
    let stranger = PrivateKeySigner::random().address();
    let present = |payload, source| credential(&challenge, payload, source);
    // Signed by the payer, who is the source.
    let signed = |permit: &Permit2Transfer, details: &[(Address, U256)]| {
        present(
            permit2_payload(&payer, permit, details),
            Some(payer.address()),
        )
    };
    let mut cases = Vec::new();
    // No source: the signer is unknown.
    cases.push((
        present(permit2_payload(&payer, &good, &details), None),
        "malformed-credential",
    ));
    let mut witness = good.clone();
    witness.challenge_hash = B256::repeat_byte(1);
    cases.push((signed(&witness, &details), "verification-failed"));
    let mut token = good.clone();
    token.permitted[0].0 = stranger;
    cases.push((signed(&token, &details), "verification-failed"));
    cases.push((
        present(
            permit2_payload(&payer, &good, &[(stranger, U256::from(PRICE))]),
            Some(payer.address()),
        ),
        "verification-failed",
    ));
    cases.push((
        present(
            permit2_payload(&payer, &good, &[(env.recipient, U256::from(PRICE - 1))]),
            Some(payer.address()),
        ),
        "payment-insufficient",
    ));
    let mut late = good.clone();
    late.deadline = U256::from(now() - 1);
    cases.push((signed(&late, &details), "payment-expired"));
    let mut two = good.clone();
    two.permitted.push((env.chain.token, U256::from(1)));
    cases.push((signed(&two, &details), "verification-failed"));
    let mut spender = good.clone();
    spender.spender = stranger;
    cases.push((signed(&spender, &details), "verification-failed"));
    let mut external = good.clone();
    external.external_id = "another order".to_owned();
    cases.push((signed(&external, &details), "verification-failed"));
    // Signed by someone who is not the source.
    cases.push((
        present(
            permit2_payload(&unapproved, &good, &details),
            Some(payer.address()),
        ),
        "verification-failed",
    ));
    // A payer that never approved Permit2: the simulation refuses it.
    let mut theirs = good.clone();
    theirs.nonce = U256::from(8);
    cases.push((
        present(
            permit2_payload(&unapproved, &theirs, &details),
            Some(unapproved.address()),
        ),
        "verification-failed",
    ));
    for (i, (header, code)) in cases.iter().enumerate() {
        let reply = env.get(Some(header)).await;
        assert_eq!(reply.status.as_u16(), 402, "case {i}: {}", reply.text());
        reply.assert_rejected(402, code);
    }
    assert_eq!(env.chain.balance(env.recipient).await, U256::ZERO);
    env.get(Some(&signed(&good, &details))).await.assert_paid();
}

/// Splits: the batch form, the primary transfer first and the splits in
/// the request's order; no other credential type pays a split charge.
#[tokio::test]
async fn evm_permit2_pays_splits_in_order() {
    let platform = PrivateKeySigner::random().address();
    let agent = PrivateKeySigner::random().address();
    let env = Env::start_with(|b| {
        b.split(platform.to_string(), 2_000, Some("platform fee".to_owned()))
            .split(agent.to_string(), 500, None)
    })
    .await;
    let payer = env.chain.funded_payer(PRICE).await;
    env.chain.approve_permit2(payer.address()).await;
    let challenge = env.challenge().await;
    let details_json = Env::details(&challenge);
    assert_eq!(details_json["credentialTypes"], json!(["permit2"]));
    assert_eq!(details_json["splits"][0]["amount"], "2000");
    let primary = U256::from(PRICE - 2_500);
    let mut permit = good_permit(&env, &challenge, 3);
    let ordered = [
        (env.recipient, primary),
        (platform, U256::from(2_000)),
        (agent, U256::from(500)),
    ];
    permit.permitted = ordered.iter().map(|&(_, a)| (env.chain.token, a)).collect();
    // The splits swapped: refused.
    let swapped = [ordered[0], ordered[2], ordered[1]];
    let mut swapped_permit = permit.clone();
    swapped_permit.permitted = swapped.iter().map(|&(_, a)| (env.chain.token, a)).collect();
    env.get(Some(&credential(
        &challenge,
        permit2_payload(&payer, &swapped_permit, &swapped),
        Some(payer.address()),
    )))
    .await
    .assert_rejected(402, "verification-failed");
    // An authorization for the whole amount: refused (splits need permit2).
    let auth = good_authorization(&payer, &env, &challenge);
    env.get(Some(&credential(
        &challenge,
        authorization_payload(&payer, env.chain.token, &auth),
        None,
    )))
    .await
    .assert_rejected(402, "verification-failed");
    env.get(Some(&credential(
        &challenge,
        permit2_payload(&payer, &permit, &ordered),
        Some(payer.address()),
    )))
    .await
    .assert_paid();
    assert_eq!(env.chain.balance(env.recipient).await, primary);
    assert_eq!(env.chain.balance(platform).await, U256::from(2_000));
    assert_eq!(env.chain.balance(agent).await, U256::from(500));
}
