//! The EVM charge's verification of each credential type up to its first
//! store or chain call, against the bare signature recovery it contains,
//! in one process and run (no node: nothing here reaches the network).
//!
//! - `evm/recover`: the recovery of one EIP-712 digest's signer with
//!   libsecp256k1, the primitive the checks use (the baseline);
//! - `evm/recover (alloy, k256)`: alloy's
//!   `Signature::recover_address_from_prehash` on the same digest, for scale;
//! - `evm/permit2`, `evm/permit2 (2 splits)`, `evm/authorization`,
//!   `evm/transaction`, `evm/hash`: `EvmCharge`'s offline half
//!   (`tower_mpp::evm::bench::check_offline`): the challenge's request read,
//!   the source and type, every check of the type (EIP-712 digest, signature
//!   recovery, RLP and ABI decoding, amount, recipient, token, chain, time,
//!   witness, nonce, splits) and the ABI-encoded call the server would
//!   submit, from a decoded credential.
//!
//! ```text
//! cargo bench --bench evm --features evm
//! ```
//!
//! `EVM_PROFILE=<name> [EVM_ITERATIONS=n]` runs one of them `n` times
//! (default 10,000) without criterion, for `valgrind --tool=callgrind`.
#![allow(missing_docs)]

use std::hint::black_box;

use alloy::primitives::{Address, B256, Signature, U256};
use alloy::signers::SignerSync as _;
use alloy::signers::local::PrivateKeySigner;
use criterion::{Criterion, criterion_group};
use serde_json::{Value, json};
use tower_mpp::evm::{
    Authorization, EvmCharge, EvmChargeBuilder, Permit2Transfer, TokenDomain,
    authorization_signing_hash, bench, challenge_hash, did_pkh,
};
use tower_mpp::method::{ChargeContext, Payments, Price};
use tower_mpp::protocol::{Challenge, Credential};

#[path = "../tests/support/anvil.rs"]
mod anvil;
#[path = "../tests/support/evm_chain.rs"]
#[allow(dead_code)]
mod evm_chain;
#[path = "../tests/support/evm_payer.rs"]
mod evm_payer;

mod support {
    pub(crate) use super::{anvil, evm_chain};
}

use evm_chain::{EVM_CHAIN_ID, GAS_KEY, TOKEN_NAME, TOKEN_VERSION};
use evm_payer::{authorization_payload, permit2_payload, signed_transfer};

/// 0.01 of the 6-decimal token.
const PRICE: u128 = 10_000;
const TOKEN: Address = Address::repeat_byte(0x70);
const RECIPIENT: Address = Address::repeat_byte(0x42);
const SPLIT: Address = Address::repeat_byte(0x5a);

/// One charge and the credentials that pay it, one per case.
struct Bench {
    method: EvmCharge,
    split_method: EvmCharge,
    credentials: Vec<(&'static str, Credential)>,
    /// An authorization's digest and signature: the baseline's input.
    digest: B256,
    signature: Signature,
}

fn method(configure: impl FnOnce(EvmChargeBuilder) -> EvmChargeBuilder) -> EvmCharge {
    configure(
        EvmCharge::builder()
            .recipient(RECIPIENT.to_string())
            .currency(TOKEN.to_string())
            .rpc_url("http://127.0.0.1:9")
            .chain_id(EVM_CHAIN_ID)
            .gas_payer_key(GAS_KEY)
            .authorization_domain(TOKEN_NAME, TOKEN_VERSION)
            .unbound_on_volatile_store(true),
    )
    .build()
    .unwrap()
}

fn challenge(method: &EvmCharge) -> Challenge {
    let payments = Payments::builder()
        .realm("api.example.com")
        .secret("bench secret: at least thirty-two bytes long")
        .method(method.clone())
        .build()
        .unwrap();
    let price = Price::new("0.01").unwrap();
    payments
        .challenges(&price, &ChargeContext::default())
        .unwrap()
        .remove(0)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn object(value: Value) -> serde_json::Map<String, Value> {
    let Value::Object(map) = value else {
        panic!("a payload is an object")
    };
    map
}

fn setup() -> Bench {
    let payer = PrivateKeySigner::random();
    let source = did_pkh(EVM_CHAIN_ID, payer.address());
    let method = method(|b| b);
    let split_method = method_with_splits();
    let c = challenge(&method);
    let hash = challenge_hash(&c.id, &c.realm);
    let credential = |c: &Challenge, payload: Value| {
        Credential::new(c.clone(), object(payload)).with_source(source.clone())
    };
    let permit = Permit2Transfer {
        permitted: vec![(TOKEN, U256::from(PRICE))],
        spender: method.gas_payer().unwrap(),
        nonce: U256::from(7),
        deadline: U256::from(now() + 3600),
        challenge_hash: hash,
        external_id: String::new(),
    };
    let permit2 = credential(
        &c,
        permit2_payload(&payer, &permit, &[(RECIPIENT, U256::from(PRICE))]),
    );
    let sc = challenge(&split_method);
    let shares = [
        (RECIPIENT, U256::from(PRICE - 1_500)),
        (SPLIT, U256::from(1_000)),
        (SPLIT, U256::from(500)),
    ];
    let split_permit = Permit2Transfer {
        permitted: shares.iter().map(|&(_, amount)| (TOKEN, amount)).collect(),
        challenge_hash: challenge_hash(&sc.id, &sc.realm),
        ..permit.clone()
    };
    let split = credential(&sc, permit2_payload(&payer, &split_permit, &shares));
    let authorization = Authorization {
        from: payer.address(),
        to: RECIPIENT,
        value: U256::from(PRICE),
        valid_after: U256::ZERO,
        valid_before: U256::from(now() + 3600),
        nonce: hash,
    };
    let signed = credential(&c, authorization_payload(&payer, TOKEN, &authorization));
    let (raw, tx_hash) = signed_transfer(&payer, EVM_CHAIN_ID, TOKEN, RECIPIENT, PRICE, 0);
    let transaction = credential(
        &c,
        json!({"type": "transaction", "signature": alloy::hex::encode_prefixed(raw)}),
    );
    let hash_credential = credential(&c, json!({"type": "hash", "hash": tx_hash}));
    let domain = TokenDomain {
        name: TOKEN_NAME.to_owned(),
        version: TOKEN_VERSION.to_owned(),
    };
    let digest = authorization_signing_hash(&domain, EVM_CHAIN_ID, TOKEN, &authorization);
    let signature = payer.sign_hash_sync(&digest).unwrap();
    Bench {
        method,
        split_method,
        credentials: vec![
            ("permit2", permit2),
            ("permit2 (2 splits)", split),
            ("authorization", signed),
            ("transaction", transaction),
            ("hash", hash_credential),
        ],
        digest,
        signature,
    }
}

fn method_with_splits() -> EvmCharge {
    method(|b| {
        b.credential_types([tower_mpp::evm::CredentialType::Permit2])
            .split(SPLIT.to_string(), 1_000, None)
            .split(SPLIT.to_string(), 500, Some("fee".to_owned()))
    })
}

impl Bench {
    fn method_for(&self, name: &str) -> &EvmCharge {
        if name.contains("splits") {
            &self.split_method
        } else {
            &self.method
        }
    }

    /// Checks every case once, so that a benchmark never measures a
    /// refusal.
    fn assert_all_pass(&self) {
        for (name, credential) in &self.credentials {
            let result = bench::check_offline(self.method_for(name), credential, true);
            assert!(result.is_ok(), "{name}: {result:?}");
        }
        assert_eq!(
            bench::recover(&self.signature, &self.digest),
            self.signature
                .recover_address_from_prehash(&self.digest)
                .ok()
        );
    }
}

fn benches(c: &mut Criterion) {
    let cases = setup();
    cases.assert_all_pass();
    let mut group = c.benchmark_group("evm");
    group.bench_function("recover", |b| {
        b.iter(|| bench::recover(black_box(&cases.signature), black_box(&cases.digest)));
    });
    group.bench_function("recover (alloy, k256)", |b| {
        b.iter(|| {
            black_box(&cases.signature)
                .recover_address_from_prehash(black_box(&cases.digest))
                .unwrap()
        });
    });
    for (name, credential) in &cases.credentials {
        let method = cases.method_for(name);
        group.bench_function(*name, |b| {
            b.iter(|| bench::check_offline(method, black_box(credential), true).unwrap());
        });
    }
    group.finish();
}

fn profile(name: &str) {
    let iterations: usize = std::env::var("EVM_ITERATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    let cases = setup();
    cases.assert_all_pass();
    if name == "recover" {
        for _ in 0..iterations {
            black_box(bench::recover(
                black_box(&cases.signature),
                black_box(&cases.digest),
            ));
        }
        return;
    }
    let Some((_, credential)) = cases.credentials.iter().find(|(n, _)| *n == name) else {
        panic!("EVM_PROFILE={name}: recover or one of the credential cases");
    };
    let method = cases.method_for(name);
    for _ in 0..iterations {
        bench::check_offline(method, black_box(credential), true).unwrap();
    }
}

criterion_group!(evm, benches);

fn main() {
    if let Ok(name) = std::env::var("EVM_PROFILE") {
        profile(&name);
        return;
    }
    evm();
    Criterion::default().configure_from_args().final_summary();
}
