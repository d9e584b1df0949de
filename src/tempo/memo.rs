//! The challenge-bound attribution memo.
//!
//! When a challenge carries no memo of its own, the deployed MPP clients
//! pay with `transferWithMemo` and a 32-byte memo that names the protocol,
//! the server's realm, optionally the client, and the challenge:
//!
//! | bytes  | content                                       |
//! | ------ | --------------------------------------------- |
//! | 0..4   | `keccak256("mpp")[0..4]`                      |
//! | 4      | version, `0x01`                               |
//! | 5..15  | `keccak256(realm)[0..10]`                     |
//! | 15..25 | `keccak256(client id)[0..10]`, or zeros       |
//! | 25..32 | `keccak256(challenge id)[0..7]`               |
//!
//! The server checks every part but the client id, so a transfer made for
//! another purpose, another server or another challenge cannot be
//! presented as payment.

use alloy_primitives::{B256, keccak256};

const TAG: &[u8] = b"mpp";
const VERSION: u8 = 0x01;

/// Builds the attribution memo for a challenge (what a client writes).
pub fn attribution_memo(realm: &str, challenge_id: &str, client_id: Option<&str>) -> B256 {
    let mut memo = [0u8; 32];
    memo[0..4].copy_from_slice(&keccak256(TAG)[0..4]);
    memo[4] = VERSION;
    memo[5..15].copy_from_slice(&keccak256(realm.as_bytes())[0..10]);
    if let Some(client) = client_id {
        memo[15..25].copy_from_slice(&keccak256(client.as_bytes())[0..10]);
    }
    memo[25..32].copy_from_slice(&keccak256(challenge_id.as_bytes())[0..7]);
    B256::from(memo)
}

/// Whether `memo` is the attribution memo of this realm and challenge, for
/// any client id.
pub fn is_attribution_memo(memo: &B256, realm: &str, challenge_id: &str) -> bool {
    let expected = attribution_memo(realm, challenge_id, None);
    memo[0..15] == expected[0..15] && memo[25..32] == expected[25..32]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memo_names_protocol_realm_client_and_challenge() {
        let memo = attribution_memo("api.example.com", "abc", Some("agent-7"));
        assert_eq!(memo[0..4], keccak256("mpp")[0..4]);
        assert_eq!(memo[4], 1);
        assert_eq!(memo[5..15], keccak256("api.example.com")[0..10]);
        assert_eq!(memo[15..25], keccak256("agent-7")[0..10]);
        assert_eq!(memo[25..32], keccak256("abc")[0..7]);
        assert_eq!(attribution_memo("r", "c", None)[15..25], [0u8; 10]);
    }

    /// Vectors computed with pympp 0.16's encoder.
    #[test]
    fn the_memo_matches_the_python_sdk() {
        assert_eq!(
            attribution_memo("api.example.com", "challenge-123", None).to_string(),
            "0xef1ed712011ece072f76bd8b82350e00000000000000000000eb18f2d4402269"
        );
        assert_eq!(
            attribution_memo("api.example.com", "challenge-123", Some("my-app")).to_string(),
            "0xef1ed712011ece072f76bd8b82350e3a180fb9d0177aa2f371eb18f2d4402269"
        );
    }

    #[test]
    fn any_client_but_only_this_realm_and_challenge_is_accepted() {
        let memo = attribution_memo("api.example.com", "abc", Some("agent-7"));
        assert!(is_attribution_memo(&memo, "api.example.com", "abc"));
        assert!(!is_attribution_memo(&memo, "api.example.com", "abd"));
        assert!(!is_attribution_memo(&memo, "api.example.org", "abc"));
        let mut wrong_version = memo;
        wrong_version[4] = 2;
        assert!(!is_attribution_memo(
            &wrong_version,
            "api.example.com",
            "abc"
        ));
        assert!(!is_attribution_memo(&B256::ZERO, "api.example.com", "abc"));
    }
}
