//! Reading ERC-20 `Transfer` logs out of a receipt: a payment is settled
//! only when its transfers are there, from the expected token.

use alloy_primitives::{Address, B256, Log, U256, b256};

/// `keccak256("Transfer(address,address,uint256)")`.
const TRANSFER_TOPIC: B256 =
    b256!("ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");

/// One `Transfer` of `token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Transfer {
    pub(crate) from: Address,
    pub(crate) to: Address,
    pub(crate) value: U256,
}

/// The `Transfer` logs of `token` in `logs`, in order.
pub(crate) fn transfers(logs: &[Log], token: Address) -> Vec<Transfer> {
    logs.iter()
        .filter(|log| log.address == token)
        .filter_map(|log| {
            let [topic, from, to] = log.data.topics() else {
                return None;
            };
            let value = log.data.data.as_ref();
            (*topic == TRANSFER_TOPIC && value.len() == 32).then(|| Transfer {
                from: Address::from_word(*from),
                to: Address::from_word(*to),
                value: U256::from_be_slice(value),
            })
        })
        .collect()
}

/// Whether every transfer of `expected` is among `found`, each log
/// matching at most one expected transfer.
pub(crate) fn contains_all(found: &[Transfer], expected: &[Transfer]) -> bool {
    let mut used = vec![false; found.len()];
    expected.iter().all(|want| {
        let hit = found
            .iter()
            .enumerate()
            .position(|(i, got)| !used[i] && got == want);
        hit.inspect(|&i| used[i] = true).is_some()
    })
}

/// Whether a transfer of exactly `value` from anyone to `to` is in `found`
/// (how a transaction or hash credential pays).
pub(crate) fn pays(found: &[Transfer], to: Address, value: U256) -> Option<Transfer> {
    found
        .iter()
        .copied()
        .find(|t| t.to == to && t.value == value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{LogData, address};

    fn log(token: Address, from: Address, to: Address, value: u64) -> Log {
        Log {
            address: token,
            data: LogData::new_unchecked(
                vec![TRANSFER_TOPIC, from.into_word(), to.into_word()],
                U256::from(value).to_be_bytes::<32>().to_vec().into(),
            ),
        }
    }

    #[test]
    fn only_the_tokens_transfer_logs_count() {
        let token = address!("1000000000000000000000000000000000000001");
        let other = address!("1000000000000000000000000000000000000002");
        let (a, b) = (Address::repeat_byte(0xaa), Address::repeat_byte(0xbb));
        let logs = [
            log(other, a, b, 5),
            log(token, a, b, 5),
            log(token, a, b, 5),
        ];
        let found = transfers(&logs, token);
        assert_eq!(found.len(), 2);
        let five = Transfer {
            from: a,
            to: b,
            value: U256::from(5),
        };
        assert!(contains_all(&found, &[five, five]));
        assert!(
            !contains_all(&found, &[five, five, five]),
            "each log counts once"
        );
        assert_eq!(pays(&found, b, U256::from(5)), Some(five));
        assert_eq!(pays(&found, b, U256::from(6)), None);
    }
}
