//! `TempoSession::builder().from_env()` reads the variables the crate
//! documents (`TEMPO_PAYEE_KEY`, `TEMPO_ESCROW`, `TEMPO_RPC_URL`,
//! `TEMPO_CHAIN_ID`). The environment is set on a child process running
//! one test of this binary, so no test changes its own environment.
#![cfg(feature = "tempo")]

use std::process::Command;

use tower_mpp::tempo::TempoConfigError;
use tower_mpp::tempo::session::{SessionConfigError, TempoSession};

const KEY: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const ESCROW: &str = "0x33b901018174DDabE4841042ab76ba85D4e24f25";
/// Set on the child: what it should find.
const EXPECT: &str = "TOWER_MPP_TEST_EXPECT";

/// Runs `child` in a new process with `vars` set; true if it passed.
fn child_passes(expect: &str, vars: &[(&str, &str)]) -> bool {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["child", "--exact", "--nocapture"])
        .env(EXPECT, expect);
    for name in [
        "TEMPO_PAYEE_KEY",
        "TEMPO_ESCROW",
        "TEMPO_RPC_URL",
        "TEMPO_CHAIN_ID",
    ] {
        command.env_remove(name);
    }
    command.envs(vars.iter().copied());
    command.status().unwrap().success()
}

/// The child: builds a session from its environment and checks the outcome
/// the parent expects. Does nothing when run on its own.
#[test]
fn child() {
    let Ok(expect) = std::env::var(EXPECT) else {
        return;
    };
    let built = TempoSession::builder()
        .from_env()
        .volatile_channel_store(true)
        .build();
    match expect.as_str() {
        "built" => {
            let session = built.unwrap();
            let payee: alloy::signers::local::PrivateKeySigner = KEY.parse().unwrap();
            assert_eq!(session.recipient(), payee.address());
            assert_eq!(session.chain_id(), 1337);
            assert_eq!(
                session.escrow(),
                ESCROW.parse::<alloy::primitives::Address>().unwrap()
            );
        }
        "bad chain id" => assert_eq!(
            built.unwrap_err(),
            SessionConfigError::Tempo(TempoConfigError::InvalidChainId("abc".to_owned()))
        ),
        "no key" => assert_eq!(built.unwrap_err(), SessionConfigError::MissingPayeeKey),
        other => panic!("unknown expectation {other}"),
    }
}

#[test]
fn a_session_is_configured_from_the_documented_variables() {
    let vars = [
        ("TEMPO_PAYEE_KEY", KEY),
        ("TEMPO_ESCROW", ESCROW),
        ("TEMPO_RPC_URL", "http://127.0.0.1:9"),
        ("TEMPO_CHAIN_ID", "1337"),
    ];
    assert!(child_passes("built", &vars));
}

#[test]
fn a_chain_id_that_is_not_a_number_is_reported_by_build() {
    let vars = [("TEMPO_PAYEE_KEY", KEY), ("TEMPO_CHAIN_ID", "abc")];
    assert!(child_passes("bad chain id", &vars));
}

#[test]
fn without_the_payee_key_build_says_so() {
    assert!(child_passes("no key", &[]));
}
