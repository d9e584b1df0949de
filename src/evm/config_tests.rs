//! The credential types a configuration offers.

use super::*;
use CredentialType::{Authorization, Hash, Permit2, Transaction};

#[test]
fn the_default_credential_types_follow_what_the_server_can_settle() {
    assert_eq!(
        credential_types(None, false, true, false).unwrap(),
        [Transaction, Hash]
    );
    assert_eq!(
        credential_types(None, true, false, false).unwrap(),
        [Permit2, Transaction, Hash]
    );
    assert_eq!(
        credential_types(None, true, true, false).unwrap(),
        [Permit2, Authorization, Transaction, Hash]
    );
    assert_eq!(credential_types(None, true, true, true).unwrap(), [Permit2]);
    assert!(credential_types(Some(vec![Authorization]), true, false, false).is_err());
    assert!(credential_types(Some(vec![Permit2]), false, true, false).is_err());
    assert!(credential_types(Some(vec![]), true, true, false).is_err());
    assert!(credential_types(Some(vec![Permit2, Hash]), true, true, true).is_err());
    assert_eq!(
        credential_types(Some(vec![Hash, Hash, Transaction]), false, false, false).unwrap(),
        [Hash, Transaction]
    );
}

#[test]
fn bad_settings_are_refused() {
    let good = || {
        EvmCharge::builder()
            .recipient("0x742d35Cc6634C0532925a3b844Bc9e7595f8fE00")
            .currency("0x742d35Cc6634C0532925a3b844Bc9e7595f8fE00")
            .rpc_url("http://127.0.0.1:8545")
            .chain_id(31337)
    };
    assert!(good().build().is_ok());
    assert_eq!(
        good().rpc_url("ftp://x").build().unwrap_err(),
        EvmConfigError::InvalidRpcUrl
    );
    assert_eq!(
        good().gas_payer_key("nope").build().unwrap_err(),
        EvmConfigError::InvalidGasPayerKey
    );
    assert!(matches!(
        good().currency("0x12").build().unwrap_err(),
        EvmConfigError::InvalidAddress { .. }
    ));
    assert_eq!(
        EvmCharge::builder().build().unwrap_err(),
        EvmConfigError::ChainIdUnknown
    );
    let debug = format!(
        "{:?}",
        good()
            .gas_payer_key("0x01")
            .rpc_url("https://k:secret@x/key")
    );
    assert!(
        !debug.contains("secret") && !debug.contains("0x01"),
        "{debug}"
    );
}
