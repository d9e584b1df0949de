//! The payer's `did:pkh:eip155:<chainId>:<address>` identifier.

use alloy_primitives::Address;

/// A payer named by a credential's `source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Payer {
    pub(crate) chain_id: u64,
    pub(crate) address: Address,
}

/// Parses `did:pkh:eip155:<chainId>:<address>`; `None` for anything else.
/// The address may be in any case (the checksum is not required).
pub(crate) fn parse_did(source: &str) -> Option<Payer> {
    let rest = source.strip_prefix("did:pkh:eip155:")?;
    let (chain, address) = rest.split_once(':')?;
    let digits_only = !chain.is_empty() && chain.bytes().all(|b| b.is_ascii_digit());
    if !digits_only || (chain.len() > 1 && chain.starts_with('0')) {
        return None;
    }
    let hex = address.strip_prefix("0x")?;
    if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(Payer {
        chain_id: chain.parse().ok()?,
        address: address.parse().ok()?,
    })
}

/// The DID of `address` on `chain_id`, as clients write it.
pub fn did_pkh(chain_id: u64, address: Address) -> String {
    format!("did:pkh:eip155:{chain_id}:{address}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::address;

    #[test]
    fn dids_round_trip_and_junk_is_refused() {
        let who = address!("1234567890abcdef1234567890abcdef12345678");
        let did = did_pkh(4217, who);
        assert_eq!(
            parse_did(&did),
            Some(Payer {
                chain_id: 4217,
                address: who
            })
        );
        assert_eq!(
            parse_did("did:pkh:eip155:1337:0x1234567890ABCDEF1234567890abcdef12345678"),
            Some(Payer {
                chain_id: 1337,
                address: who
            })
        );
        for bad in [
            "",
            "did:pkh:eip155:4217",
            "did:pkh:eip155::0x1234567890abcdef1234567890abcdef12345678",
            "did:pkh:eip155:01:0x1234567890abcdef1234567890abcdef12345678",
            "did:pkh:eip155:-1:0x1234567890abcdef1234567890abcdef12345678",
            "did:pkh:eip155:99999999999999999999999:0x1234567890abcdef1234567890abcdef12345678",
            "did:pkh:eip155:1:1234567890abcdef1234567890abcdef12345678",
            "did:pkh:eip155:1:0x1234",
            "did:pkh:eip155:1:0x1234567890abcdef1234567890abcdef1234567g",
            "did:pkh:solana:1:0x1234567890abcdef1234567890abcdef12345678",
        ] {
            assert_eq!(parse_did(bad), None, "{bad}");
        }
    }
}
