//! `WWW-Authenticate` parsing never panics, and every challenge it yields
//! survives a format/parse round trip whenever it can be formatted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_mpp::protocol::{Challenge, parse_challenges};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // A NUL splits the input into several field lines of one response.
    let Ok(challenges) = parse_challenges(text.split('\0')) else {
        return;
    };
    for challenge in challenges {
        let Ok(header) = challenge.to_header() else {
            continue;
        };
        let again = Challenge::parse(&header)
            .unwrap_or_else(|e| panic!("formatted challenge does not parse: {e}\n{header}"));
        assert_eq!(
            again, challenge,
            "round trip changed the challenge\n{header}"
        );
    }
});
