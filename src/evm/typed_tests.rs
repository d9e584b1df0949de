//! The digests against their definitions: type strings, alloy's generic
//! EIP-712 hashing, the encoding written out.

use super::*;

/// The challenge hash is the packed concatenation, as Solidity's
/// `abi.encodePacked(string, string)`.
#[test]
fn the_challenge_hash_is_packed() {
    assert_eq!(challenge_hash("ab", "c"), keccak256("abc"));
}

/// The witness type hashes the draft's exact spelling.
#[test]
fn the_witness_type_string_is_the_drafts() {
    assert!(PERMIT2_WITNESS_TYPE_STRING.contains("bytes32 challengeHash, string externalId"));
    let transfer = Permit2Transfer {
        permitted: vec![(Address::ZERO, U256::from(1))],
        spender: Address::ZERO,
        nonce: U256::ZERO,
        deadline: U256::ZERO,
        challenge_hash: B256::ZERO,
        external_id: String::new(),
    };
    let batch = Permit2Transfer {
        permitted: vec![(Address::ZERO, U256::from(1)); 2],
        ..transfer.clone()
    };
    assert_ne!(
        transfer.signing_hash(1, PERMIT2_ADDRESS),
        batch.signing_hash(1, PERMIT2_ADDRESS)
    );
}

/// Each constant type hash is the hash of its type string.
#[test]
fn the_type_hashes_are_their_strings() {
    let witness = "PaymentWitness(bytes32 challengeHash, string externalId)";
    let permissions = "TokenPermissions(address token,uint256 amount)";
    let stub = "TokenPermissions permitted,address spender,uint256 nonce,uint256 deadline,";
    let pairs = [
        (PAYMENT_WITNESS_TYPE_HASH, witness.to_owned()),
        (TOKEN_PERMISSIONS_TYPE_HASH, permissions.to_owned()),
        (
            SINGLE_TYPE_HASH,
            format!("PermitWitnessTransferFrom({stub}{PERMIT2_WITNESS_TYPE_STRING}"),
        ),
        (
            BATCH_TYPE_HASH,
            format!(
                "PermitBatchWitnessTransferFrom({}{PERMIT2_WITNESS_TYPE_STRING}",
                stub.replacen("TokenPermissions", "TokenPermissions[]", 1)
            ),
        ),
        (
            PERMIT2_DOMAIN_TYPE_HASH,
            "EIP712Domain(string name,uint256 chainId,address verifyingContract)".to_owned(),
        ),
        (PERMIT2_NAME_HASH, "Permit2".to_owned()),
        (EMPTY_HASH, String::new()),
        (
            TOKEN_DOMAIN_TYPE_HASH,
            "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
                .to_owned(),
        ),
    ];
    for (hash, text) in pairs {
        assert_eq!(hash, keccak256(&text), "{text}");
    }
    assert!(PERMIT2_WITNESS_TYPE_STRING.ends_with(&format!("{}{permissions}", &witness)));
}

/// The authorization digest is alloy's generic EIP-712 hashing of the
/// `sol!` struct.
#[test]
fn the_authorization_digest_is_alloys() {
    use alloy_sol_types::{Eip712Domain, SolStruct as _, sol};
    sol! {
        struct TransferWithAuthorization {
            address from;
            address to;
            uint256 value;
            uint256 validAfter;
            uint256 validBefore;
            bytes32 nonce;
        }
    }
    let domain = TokenDomain {
        name: "USD Coin".to_owned(),
        version: "2".to_owned(),
    };
    let token = Address::repeat_byte(7);
    let a = Authorization {
        from: Address::repeat_byte(1),
        to: Address::repeat_byte(2),
        value: U256::from(10_000),
        valid_after: U256::from(3),
        valid_before: U256::from(u64::MAX),
        nonce: B256::repeat_byte(9),
    };
    let message = TransferWithAuthorization {
        from: a.from,
        to: a.to,
        value: a.value,
        validAfter: a.valid_after,
        validBefore: a.valid_before,
        nonce: a.nonce,
    };
    let alloy_domain = Eip712Domain::new(
        Some("USD Coin".into()),
        Some("2".into()),
        Some(U256::from(8453)),
        Some(token),
        None,
    );
    let expected = message.eip712_signing_hash(&alloy_domain);
    assert_eq!(
        authorization_signing_hash(&domain, 8453, token, &a),
        expected
    );
    assert_eq!(
        message.eip712_type_hash(),
        TRANSFER_WITH_AUTHORIZATION_TYPE_HASH
    );
    let cached = Separators::new(8453, PERMIT2_ADDRESS, token, Some(&domain));
    assert_eq!(
        eip712_digest(cached.token(&domain, 8453, token), a.struct_hash()),
        expected
    );
    // Another chain or token than the cached one: computed for it.
    assert_eq!(
        cached.token(&domain, 1, token),
        alloy_domain_separator(&domain, 1, token)
    );
    assert_eq!(
        cached.permit2(1, PERMIT2_ADDRESS),
        permit2_domain_separator(1, PERMIT2_ADDRESS)
    );
}

fn alloy_domain_separator(domain: &TokenDomain, chain_id: u64, token: Address) -> B256 {
    alloy_sol_types::Eip712Domain::new(
        Some(domain.name.clone().into()),
        Some(domain.version.clone().into()),
        Some(U256::from(chain_id)),
        Some(token),
        None,
    )
    .separator()
}

/// A Permit2 digest, single and batch, is the draft's encoding written
/// out with `abi_encode` and the type strings (what this module did
/// before the hashes were constants), with and without `externalId`.
#[test]
fn the_permit2_digest_is_the_written_out_encoding() {
    use alloy_sol_types::SolValue as _;
    let reference = |t: &Permit2Transfer, chain_id: u64, permit2: Address| {
        let stub = if t.permitted.len() == 1 {
            "PermitWitnessTransferFrom(TokenPermissions permitted,"
        } else {
            "PermitBatchWitnessTransferFrom(TokenPermissions[] permitted,"
        };
        let permissions: Vec<B256> = t
            .permitted
            .iter()
            .map(|(token, amount)| {
                keccak256(
                    (
                        keccak256("TokenPermissions(address token,uint256 amount)"),
                        *token,
                        *amount,
                    )
                        .abi_encode(),
                )
            })
            .collect();
        let permitted = match permissions.as_slice() {
            [one] => *one,
            many => keccak256(many.concat()),
        };
        let witness = keccak256(
            (
                keccak256("PaymentWitness(bytes32 challengeHash, string externalId)"),
                t.challenge_hash,
                keccak256(t.external_id.as_bytes()),
            )
                .abi_encode(),
        );
        let type_hash = keccak256(format!(
            "{stub}address spender,uint256 nonce,uint256 deadline,{PERMIT2_WITNESS_TYPE_STRING}"
        ));
        let struct_hash = keccak256(
            (
                type_hash, permitted, t.spender, t.nonce, t.deadline, witness,
            )
                .abi_encode(),
        );
        let domain = keccak256(
            (
                keccak256("EIP712Domain(string name,uint256 chainId,address verifyingContract)"),
                keccak256("Permit2"),
                U256::from(chain_id),
                permit2,
            )
                .abi_encode(),
        );
        (
            witness,
            keccak256([&[0x19, 0x01][..], &domain[..], &struct_hash[..]].concat()),
        )
    };
    let single = Permit2Transfer {
        permitted: vec![(Address::repeat_byte(3), U256::from(10_000))],
        spender: Address::repeat_byte(4),
        nonce: U256::from(7),
        deadline: U256::from(1_900_000_000),
        challenge_hash: B256::repeat_byte(5),
        external_id: String::new(),
    };
    let batch = Permit2Transfer {
        permitted: vec![
            (Address::repeat_byte(3), U256::from(9_000)),
            (Address::repeat_byte(3), U256::from(1_000)),
        ],
        external_id: "order-42".to_owned(),
        ..single.clone()
    };
    for t in [single, batch] {
        let (witness, digest) = reference(&t, 31337, PERMIT2_ADDRESS);
        assert_eq!(t.witness_hash(), witness);
        assert_eq!(t.signing_hash(31337, PERMIT2_ADDRESS), digest);
    }
}
