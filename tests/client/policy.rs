//! The spending policy refuses before anything is signed.

use alloy::primitives::U256;
use tower_mpp::client::{ClientError, PolicyViolation, SpendingPolicy, WithPolicy};

use crate::common::{PRICE, Server};
use crate::support::anvil::{ALPHA_USD, CHAIN_ID, PATH_USD};

async fn refusal(server: &Server, policy: SpendingPolicy) -> PolicyViolation {
    let payer = server.payer(1_000_000).await;
    let provider = server.provider(payer.clone()).with_policy(policy);
    let error = server.get("/paid", &provider).await.unwrap_err();
    // Nothing was signed, so nothing moved and nothing was presented.
    assert_eq!(server.balance(payer.address()).await, U256::from(1_000_000));
    assert!(server.seen().iter().all(|s| !s.paid));
    match error {
        ClientError::PolicyRefused(violation) => violation,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn each_rule_refuses_what_it_excludes() {
    let server = Server::start().await;
    let path_usd = PATH_USD.to_string();

    let over = refusal(
        &server,
        SpendingPolicy::new().max_per_request(&path_usd, PRICE - 1),
    )
    .await;
    assert_eq!(
        over,
        PolicyViolation::PerRequest {
            currency: path_usd.to_lowercase(),
            amount: PRICE,
            max: PRICE - 1
        }
    );
    let currency = refusal(
        &server,
        SpendingPolicy::new().allow_currency(ALPHA_USD.to_string()),
    )
    .await;
    assert_eq!(currency, PolicyViolation::Currency(path_usd.to_lowercase()));
    let someone_else = alloy::signers::local::PrivateKeySigner::random().address();
    let recipient = refusal(
        &server,
        SpendingPolicy::new().allow_recipient(someone_else.to_string()),
    )
    .await;
    assert_eq!(
        recipient,
        PolicyViolation::Recipient(Some(server.recipient.to_string().to_lowercase()))
    );
    let chain = refusal(&server, SpendingPolicy::new().allow_chain_id(4217)).await;
    assert_eq!(chain, PolicyViolation::ChainId(Some(CHAIN_ID)));
}

/// A total cap lets payments through until the next would pass it; the
/// policy is shared by clones.
#[tokio::test]
async fn the_total_is_capped_across_requests() {
    let server = Server::start().await;
    let policy = SpendingPolicy::new()
        .max_total(PATH_USD.to_string(), 2 * PRICE)
        .allow_recipient(server.recipient.to_string())
        .allow_chain_id(CHAIN_ID);
    let provider = server
        .provider(server.payer(1_000_000).await)
        .with_policy(policy.clone());
    for _ in 0..2 {
        let response = server.get("/paid", &provider).await.unwrap();
        assert_eq!(response.status(), 200);
    }
    assert_eq!(policy.spent(&PATH_USD.to_string()), 2 * PRICE);
    let error = server.get("/paid", &provider).await.unwrap_err();
    assert!(
        matches!(
            error,
            ClientError::PolicyRefused(PolicyViolation::Total { spent, .. }) if spent == 2 * PRICE
        ),
        "{error:?}"
    );
    assert_eq!(
        server.balance(server.recipient).await,
        U256::from(2 * PRICE)
    );
}

/// A charge paying one unit to the trusted recipient and the rest to an
/// unlisted split is refused: every transfer's recipient is checked (#13).
#[tokio::test]
async fn an_unlisted_split_recipient_is_refused() {
    let unlisted = "0x000000000000000000000000000000000000dEaD";
    let server = Server::start_with(|builder| builder.split(unlisted, PRICE - 1)).await;
    let recipient = server.recipient.to_string();
    let violation = refusal(&server, SpendingPolicy::new().allow_recipient(&recipient)).await;
    assert_eq!(
        violation,
        PolicyViolation::Recipient(Some(unlisted.to_ascii_lowercase()))
    );
}
