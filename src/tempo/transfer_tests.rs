use alloy_primitives::{LogData, address};

use super::*;
use crate::tempo::memo::attribution_memo;
use crate::tempo::request::{MethodDetails, Split};

const CURRENCY: Address = address!("20c0000000000000000000000000000000000000");
const MERCHANT: Address = address!("742d35cc6634c0532925a3b844bc9e7595f8fe00");
const PLATFORM: Address = address!("a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2");
const PAYER: Address = address!("1234567890abcdef1234567890abcdef12345678");

fn request(memo: Option<B256>, splits: Vec<Split>) -> ChargeRequest {
    ChargeRequest {
        amount: U256::from(1_000_000),
        currency: CURRENCY,
        recipient: MERCHANT,
        description: None,
        external_id: None,
        method_details: MethodDetails {
            chain_id: 1337,
            memo,
            splits,
            ..MethodDetails::default()
        },
    }
}

fn transfer(to: Address, amount: u64, memo: Option<B256>) -> Transfer {
    Transfer {
        from: Some(PAYER),
        to,
        amount: U256::from(amount),
        memo,
    }
}

fn attributed() -> Option<B256> {
    let memo = attribution_memo("realm", "challenge", Some("client"));
    Some(memo).filter(|m| !m.is_zero())
}

#[test]
fn the_primary_transfer_needs_the_attribution_memo_without_a_request_memo() {
    let req = request(None, vec![]);
    let paid = [transfer(MERCHANT, 1_000_000, attributed())];
    assert_eq!(
        check(&req, "realm", "challenge", &paid, true, Some(PAYER)),
        Ok(())
    );
    for bad in [
        transfer(MERCHANT, 1_000_000, None),
        transfer(MERCHANT, 999_999, attributed()),
        transfer(MERCHANT, 1_000_001, attributed()),
        transfer(PLATFORM, 1_000_000, attributed()),
    ] {
        let got = check(&req, "realm", "challenge", &[bad], true, None);
        assert!(matches!(got, Err(Mismatch::Missing(_))), "{bad:?}: {got:?}");
    }
    let other_challenge = check(&req, "realm", "another", &paid, true, None);
    assert!(matches!(other_challenge, Err(Mismatch::Missing(_))));
}

#[test]
fn a_request_memo_must_be_carried_exactly() {
    let memo = B256::repeat_byte(7);
    let req = request(Some(memo), vec![]);
    let ok = [transfer(MERCHANT, 1_000_000, Some(memo))];
    assert_eq!(check(&req, "realm", "challenge", &ok, true, None), Ok(()));
    let wrong = [transfer(MERCHANT, 1_000_000, Some(B256::repeat_byte(8)))];
    assert!(check(&req, "realm", "challenge", &wrong, true, None).is_err());
    assert!(
        check(
            &req,
            "realm",
            "challenge",
            &[transfer(MERCHANT, 1_000_000, None)],
            true,
            None
        )
        .is_err()
    );
}

#[test]
fn splits_are_paid_in_any_order_and_extras_count_only_when_exact() {
    let split = Split {
        amount: U256::from(50_000),
        recipient: PLATFORM,
        memo: None,
    };
    let req = request(None, vec![split]);
    let paid = [
        transfer(PLATFORM, 50_000, None),
        transfer(MERCHANT, 950_000, attributed()),
    ];
    assert_eq!(check(&req, "realm", "challenge", &paid, true, None), Ok(()));
    let mut extra = paid.to_vec();
    extra.push(transfer(PAYER, 1, None));
    assert_eq!(
        check(&req, "realm", "challenge", &extra, true, None),
        Err(Mismatch::Extra)
    );
    assert_eq!(
        check(&req, "realm", "challenge", &extra, false, None),
        Ok(())
    );
    let short = [transfer(MERCHANT, 950_000, attributed())];
    assert!(check(&req, "realm", "challenge", &short, false, None).is_err());
}

#[test]
fn transfers_from_someone_else_are_a_sender_mismatch() {
    let req = request(None, vec![]);
    let paid = [transfer(MERCHANT, 1_000_000, attributed())];
    assert_eq!(
        check(&req, "realm", "challenge", &paid, false, Some(PLATFORM)),
        Err(Mismatch::Sender)
    );
}

#[test]
fn calls_decode_only_as_transfers_of_the_currency() {
    let input = ITIP20::transferWithMemoCall {
        to: MERCHANT,
        amount: U256::from(5),
        memo: B256::repeat_byte(1),
    }
    .abi_encode();
    let got = from_call(CURRENCY, Some(CURRENCY), U256::ZERO, &input).unwrap();
    assert_eq!(
        (got.to, got.amount, got.memo),
        (MERCHANT, U256::from(5), Some(B256::repeat_byte(1)))
    );
    assert_eq!(
        from_call(CURRENCY, Some(PLATFORM), U256::ZERO, &input),
        None
    );
    assert_eq!(
        from_call(CURRENCY, Some(CURRENCY), U256::from(1), &input),
        None
    );
    assert_eq!(from_call(CURRENCY, None, U256::ZERO, &input), None);
    assert_eq!(
        from_call(CURRENCY, Some(CURRENCY), U256::ZERO, &input[..40]),
        None
    );
    let approve = ITIP20::approveCall {
        spender: MERCHANT,
        amount: U256::from(5),
    }
    .abi_encode();
    assert_eq!(
        from_call(CURRENCY, Some(CURRENCY), U256::ZERO, &approve),
        None
    );
}

fn log(address: Address, data: LogData) -> Log {
    Log { address, data }
}

#[test]
fn a_memo_transfer_and_its_plain_twin_count_once() {
    let memo = B256::repeat_byte(9);
    let with_memo = ITIP20::TransferWithMemo {
        from: PAYER,
        to: MERCHANT,
        amount: U256::from(10),
        memo,
    }
    .encode_log_data();
    let plain = ITIP20::Transfer {
        from: PAYER,
        to: MERCHANT,
        amount: U256::from(10),
    }
    .encode_log_data();
    let fee = ITIP20::Transfer {
        from: PAYER,
        to: PLATFORM,
        amount: U256::from(3),
    }
    .encode_log_data();
    let logs = [
        log(CURRENCY, plain),
        log(CURRENCY, with_memo),
        log(CURRENCY, fee),
        log(
            PLATFORM,
            ITIP20::Transfer {
                from: PAYER,
                to: MERCHANT,
                amount: U256::from(10),
            }
            .encode_log_data(),
        ),
    ];
    let transfers = from_logs(CURRENCY, logs.iter());
    assert_eq!(transfers.len(), 2, "{transfers:?}");
    assert_eq!(transfers[0].memo, Some(memo));
    assert_eq!(transfers[1].to, PLATFORM);
}
