//! A small deterministic generator for the protocol's randomized tests:
//! the same cases on every run, no dependency.

/// `next(below)`: a number in `0..below` from a xorshift sequence that
/// starts at `seed` (not zero).
pub(super) fn xorshift(mut state: u64) -> impl FnMut(usize) -> usize {
    move |below: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        usize::try_from(state % below as u64).expect("below a usize")
    }
}
