//! `Authorization: Payment` parsing never panics, and an accepted credential
//! survives an encode/parse round trip.
//!
//! The input is tried both as a whole header and as the JSON inside the
//! token, so the fuzzer reaches the field checks without having to find
//! base64url first.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_mpp::protocol::{Credential, base64url};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        round_trip(text);
    }
    round_trip(&format!("Payment {}", base64url::encode(data)));
});

fn round_trip(text: &str) {
    let Ok(credential) = Credential::parse(text) else {
        return;
    };
    let Ok(header) = credential.to_header() else {
        return;
    };
    let again = Credential::parse(&header)
        .unwrap_or_else(|e| panic!("encoded credential does not parse: {e}\n{header}"));
    assert_eq!(again.challenge, credential.challenge, "{header}");
    assert_eq!(again.source, credential.source, "{header}");
    // The payload is compared through its canonical encoding: serde_json
    // tells `1.0` from `1`, which JCS writes alike.
    let reencoded = again
        .to_header()
        .unwrap_or_else(|e| panic!("re-parsed credential does not encode: {e}\n{header}"));
    assert_eq!(reencoded, header, "encoding is not a fixed point");
}
