use super::*;

const ADDR: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

fn base() -> TempoChargeBuilder {
    TempoCharge::builder()
        .recipient(ADDR)
        .chain_id(1337)
        .rpc_url("http://127.0.0.1:8545")
}

#[test]
fn a_recipient_is_all_that_is_required() {
    let method = TempoCharge::builder().recipient(ADDR).build().unwrap();
    assert_eq!(method.chain_id(), MAINNET_CHAIN_ID);
    assert_eq!(method.currency(), PATH_USD);
    assert_eq!(method.fee_payer(), None);
    assert_eq!(
        TempoCharge::builder().build().unwrap_err(),
        TempoConfigError::MissingRecipient
    );
}

type Expectation = fn(&TempoConfigError) -> bool;

#[test]
fn bad_settings_are_refused_at_start_up() {
    let cases: Vec<(TempoChargeBuilder, Expectation)> = vec![
        (base().recipient("0x1234"), |e| {
            matches!(
                e,
                TempoConfigError::InvalidAddress {
                    field: "recipient",
                    ..
                }
            )
        }),
        (
            base().recipient("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266"),
            |e| matches!(e, TempoConfigError::InvalidAddress { .. }),
        ),
        (base().currency("usd"), |e| {
            matches!(
                e,
                TempoConfigError::InvalidAddress {
                    field: "currency",
                    ..
                }
            )
        }),
        (base().decimals(0), |e| {
            *e == TempoConfigError::InvalidDecimals(0)
        }),
        (base().decimals(39), |e| {
            *e == TempoConfigError::InvalidDecimals(39)
        }),
        (base().rpc_url("not a url"), |e| {
            matches!(e, TempoConfigError::InvalidRpcUrl(_))
        }),
        (base().rpc_url("ftp://example.com"), |e| {
            matches!(e, TempoConfigError::InvalidRpcUrl(_))
        }),
        (base().fee_payer_key("0x1234"), |e| {
            matches!(e, TempoConfigError::InvalidFeePayerKey)
        }),
        (
            base().fee_payer_from_env("TOWER_MPP_SURELY_UNSET_VARIABLE"),
            |e| matches!(e, TempoConfigError::FeePayerKeyUnset { .. }),
        ),
        (base().memo("0x12"), |e| {
            matches!(e, TempoConfigError::InvalidMemo(_))
        }),
        (base().split(ADDR, 0), |e| {
            matches!(e, TempoConfigError::InvalidSplits(_))
        }),
        (base().supported_modes([]), |e| {
            matches!(e, TempoConfigError::InvalidModes(_))
        }),
        (
            base().fee_payer_key(KEY).supported_modes([Mode::Push]),
            |e| matches!(e, TempoConfigError::InvalidModes(_)),
        ),
        (
            TempoCharge::builder()
                .recipient(ADDR)
                .rpc_url("http://127.0.0.1:1"),
            |e| *e == TempoConfigError::ChainIdUnknown,
        ),
    ];
    for (builder, expected) in cases {
        let error = builder.build().unwrap_err();
        assert!(expected(&error), "unexpected {error:?}");
        assert!(!error.to_string().is_empty());
    }
    let mut eleven = base();
    for _ in 0..=MAX_SPLITS {
        eleven = eleven.split(ADDR, 1);
    }
    assert!(matches!(
        eleven.build(),
        Err(TempoConfigError::InvalidSplits(_))
    ));
}

#[test]
fn the_fee_payer_key_is_never_printed() {
    let method = base().fee_payer_key(KEY).build().unwrap();
    assert_eq!(method.fee_payer(), Some(ADDR.parse().unwrap()));
    let debug = format!("{method:?}");
    assert!(!debug.contains(&KEY[2..]), "{debug}");
    let builder = format!("{:?}", base().fee_payer_key(KEY));
    assert!(!builder.contains(&KEY[2..]), "{builder}");
}

#[tokio::test]
async fn connect_reports_an_unreachable_node() {
    let error = TempoCharge::builder()
        .recipient(ADDR)
        .rpc_url("http://127.0.0.1:1")
        .rpc_timeout(Duration::from_secs(2))
        .connect()
        .await
        .unwrap_err();
    assert!(
        matches!(error, TempoConfigError::ChainIdUnavailable(_)),
        "{error:?}"
    );
}

#[test]
fn prices_override_recipient_memo_currency_and_sponsorship() {
    use crate::method::{PaymentMethod, Price};
    let other = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
    let memo = format!("0x{}", "ab".repeat(32));
    let method = base().fee_payer_key(KEY).split(other, 100).build().unwrap();
    let request = |price: &Price| method.request("charge", price);

    let price = Price::base_units(1_000)
        .recipient(other)
        .memo(memo.clone())
        .sponsor_fees(false);
    let object = request(&price).unwrap().unwrap();
    assert_eq!(object["recipient"], other);
    assert_eq!(object["amount"], "1000");
    let details = &object["methodDetails"];
    assert_eq!(details["memo"], memo.as_str());
    assert!(details.get("feePayer").is_none());
    assert_eq!(details["splits"][0]["amount"], "100");

    let sponsored = request(&Price::base_units(1_000)).unwrap().unwrap();
    assert_eq!(sponsored["methodDetails"]["feePayer"], true);
    assert_eq!(
        sponsored["methodDetails"]["supportedModes"],
        serde_json::json!(["pull"])
    );

    // Zero amounts are paid by proof: no splits, memo or sponsorship.
    let zero = request(&Price::base_units(0)).unwrap().unwrap();
    assert_eq!(zero["methodDetails"], serde_json::json!({"chainId": 1337}));

    // Another method's currency is not offered; bad overrides are errors.
    assert_eq!(
        request(&Price::base_units(1_000).currency("usd")).unwrap(),
        None
    );
    assert!(request(&Price::base_units(1_000).recipient("0x12")).is_err());
    assert!(request(&Price::base_units(1_000).memo("0x12")).is_err());
    assert!(
        request(&Price::base_units(100)).is_err(),
        "splits leave nothing"
    );
    assert!(
        request(&Price::new("0.0000001").unwrap()).is_err(),
        "too many decimals"
    );
    let unsponsored = base().build().unwrap();
    assert!(
        unsponsored
            .request("charge", &Price::base_units(1).sponsor_fees(true))
            .is_err()
    );
    assert_eq!(
        unsponsored
            .request("subscription", &Price::base_units(1))
            .unwrap(),
        None
    );
}

/// The RPC URL may carry an API key: the builder's `Debug` shows only its
/// scheme and host (#13).
#[test]
fn debug_hides_the_rpc_urls_key() {
    let builder = TempoCharge::builder()
        .recipient("0x70997970C51812dc3A010C7d01b50e0d17dc79C8")
        .rpc_url("https://user:pw-KEY1@rpc.example.com/v2/KEY2?apikey=KEY3");
    let text = format!("{builder:?}");
    assert!(text.contains("https://rpc.example.com/.."), "{text}");
    for secret in ["KEY1", "KEY2", "KEY3"] {
        assert!(!text.contains(secret), "{text}");
    }
}
