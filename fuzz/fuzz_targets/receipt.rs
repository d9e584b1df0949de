//! `Payment-Receipt` parsing never panics, and an accepted receipt survives
//! an encode/parse round trip.
//!
//! The input is tried both as the header value and as the JSON inside it, so
//! the fuzzer reaches the field checks without having to find base64url
//! first.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_mpp::protocol::{Receipt, base64url};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        round_trip(text);
    }
    round_trip(&base64url::encode(data));
});

fn round_trip(text: &str) {
    let Ok(receipt) = Receipt::parse(text) else {
        return;
    };
    let Ok(encoded) = receipt.encode() else {
        return;
    };
    let again = Receipt::parse(&encoded)
        .unwrap_or_else(|e| panic!("encoded receipt does not parse: {e}\n{encoded}"));
    assert_eq!(again.method, receipt.method, "{encoded}");
    assert_eq!(again.timestamp, receipt.timestamp, "{encoded}");
    assert_eq!(again.reference, receipt.reference, "{encoded}");
    assert_eq!(again.external_id, receipt.external_id, "{encoded}");
    // `extra` is compared through its canonical encoding: serde_json tells
    // `1.0` from `1`, which JCS writes alike.
    let reencoded = again
        .encode()
        .unwrap_or_else(|e| panic!("re-parsed receipt does not encode: {e}\n{encoded}"));
    assert_eq!(reencoded, encoded, "encoding is not a fixed point");
}
