//! `Accept-Payment` parsing never panics, and ranking keeps its promises:
//! exactly the acceptable offers, each once, by weight and then server order,
//! or all offers unchanged when none is acceptable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_mpp::protocol::AcceptPayment;

const OFFERS: [(&str, &str); 5] = [
    ("tempo", "charge"),
    ("stripe", "charge"),
    ("tempo", "session"),
    ("lightning", "charge"),
    ("tempo", "charge"),
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // A NUL splits the input into several field lines of one request.
    let Ok(accept) = AcceptPayment::parse(text.split('\0')) else {
        return;
    };
    let indices: Vec<usize> = (0..OFFERS.len()).collect();
    let ranked = accept.rank(indices.clone(), |&i| OFFERS[i]);
    let acceptable = |i: usize| {
        accept
            .weight(OFFERS[i].0, OFFERS[i].1)
            .is_some_and(|w| w > 0)
    };
    if !indices.iter().any(|&i| acceptable(i)) {
        // Nothing acceptable: the offers come back as they were.
        assert_eq!(ranked, indices);
        return;
    }
    let mut seen = [false; OFFERS.len()];
    let mut previous: Option<(u16, usize)> = None;
    for &i in &ranked {
        assert!(!seen[i], "offer {i} returned twice: {ranked:?}");
        seen[i] = true;
        let (method, intent) = OFFERS[i];
        let weight = accept
            .weight(method, intent)
            .unwrap_or_else(|| panic!("unmatched offer {i} kept: {ranked:?}"));
        assert!(weight > 0, "offer {i} with q=0 kept: {ranked:?}");
        if let Some((w, j)) = previous {
            assert!(
                w > weight || (w == weight && j < i),
                "out of order: {ranked:?}"
            );
        }
        previous = Some((weight, i));
    }
    for (i, kept) in seen.iter().enumerate() {
        assert!(
            *kept || !acceptable(i),
            "acceptable offer {i} dropped: {ranked:?}"
        );
    }
});
