//! How the chain methods' requests write addresses (EIP-55) and amounts
//! (canonical base-10 strings).

use alloy_primitives::{Address, U256};

pub(crate) fn checksummed<S: serde::Serializer>(
    address: &Address,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&address.to_checksum(None))
}

/// What a charge's primary recipient receives: `amount` less the splits'
/// amounts; `None` when the splits leave nothing, or sum past what a
/// `U256` holds (such a request is refused, never wrapped).
pub(crate) fn primary_amount(amount: U256, splits: impl IntoIterator<Item = U256>) -> Option<U256> {
    let splits = splits.into_iter().try_fold(U256::ZERO, U256::checked_add)?;
    amount.checked_sub(splits).filter(|rest| !rest.is_zero())
}

/// Amounts are base-10 integer strings on the wire: no sign, no decimal
/// point, no exponent, no whitespace, no leading zeros.
pub(crate) mod decimal_u256 {
    use alloy_primitives::U256;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(crate) fn serialize<S: Serializer>(value: &U256, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<U256, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        let canonical = !text.is_empty()
            && text.bytes().all(|b| b.is_ascii_digit())
            && (text.len() == 1 || !text.starts_with('0'));
        if !canonical {
            return Err(D::Error::custom("an amount is a base-10 integer string"));
        }
        U256::from_str_radix(&text, 10).map_err(D::Error::custom)
    }
}

// serde's `serialize_with` hands over a reference to the field.
#[allow(clippy::ref_option)]
#[cfg(feature = "evm")]
pub(crate) fn checksummed_option<S: serde::Serializer>(
    address: &Option<Address>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match address {
        Some(address) => checksummed(address, serializer),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_primary_recipient_gets_what_the_splits_leave() {
        let n = U256::from;
        assert_eq!(primary_amount(n(100), []), Some(n(100)));
        assert_eq!(primary_amount(n(100), [n(30), n(20)]), Some(n(50)));
        assert_eq!(primary_amount(n(100), [n(60), n(40)]), None);
        assert_eq!(primary_amount(n(100), [n(101)]), None);
        assert_eq!(primary_amount(U256::MAX, [U256::MAX, n(1)]), None);
    }
}
