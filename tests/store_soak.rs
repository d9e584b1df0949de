//! A soak of the memory store: claims at a steady rate for 60 seconds (or
//! `TOWER_MPP_SOAK_SECS`), with memory flat once the live keys have reached
//! their steady number.
//!
//! Each claim is of a fresh key (the worst case for memory), and every tenth
//! claim repeats a live key, which must lose. Keys live two seconds, so about
//! 40,000 are live at any time; the warm-up is ten seconds.

use std::time::{Duration, Instant};

use tower_mpp::store::{MemoryStore, Store};

const RATE_PER_TICK: u64 = 200;
const TICK: Duration = Duration::from_millis(10);
const TTL: Duration = Duration::from_secs(2);
const WARM_UP: Duration = Duration::from_secs(10);
/// Growth of the resident set after the warm-up that fails the test: far
/// above the noise, far below the ~100 MB a leak of every claim would take.
const MAX_GROWTH_KIB: u64 = 16 * 1024;

/// The resident set size of this process, in KiB (`VmRSS`).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

#[tokio::test]
async fn memory_stays_flat_under_a_steady_claim_rate() {
    let duration = std::env::var("TOWER_MPP_SOAK_SECS")
        .ok()
        .and_then(|secs| secs.parse().ok())
        .map_or(Duration::from_secs(60), Duration::from_secs);
    assert!(duration > WARM_UP, "the soak must outlast its warm-up");

    let store = MemoryStore::new();
    let before = rss_kib();
    let start = Instant::now();
    let (mut claims, mut tick) = (0_u64, 0_u32);
    // (seconds, RSS in KiB, keys held), every five seconds.
    let mut samples = Vec::new();
    while start.elapsed() < duration {
        for _ in 0..RATE_PER_TICK {
            let key = format!("soak-proof-{claims:016x}");
            let won = store.claim(&key, TTL).await.expect("claim");
            assert!(won, "{key} is fresh");
            if claims % 10 == 0 {
                let won = store.claim(&key, TTL).await.expect("claim");
                assert!(!won, "{key} is live");
            }
            claims += 1;
        }
        tick += 1;
        if tick % 500 == 0 {
            samples.push((u64::from(tick) / 100, rss_kib(), store.len()));
        }
        tokio::time::sleep_until((start + TICK * tick).into()).await;
    }
    let elapsed = start.elapsed();
    #[allow(clippy::cast_precision_loss)] // a rate to print
    let rate = claims as f64 / elapsed.as_secs_f64();
    eprintln!(
        "soak: {claims} claims in {elapsed:.1?} ({rate:.0}/s), TTL {TTL:?}, \
         RSS {before} KiB at the start"
    );
    for (secs, kib, keys) in &samples {
        eprintln!("soak: {secs:>3} s: RSS {kib} KiB, {keys} keys held");
    }
    let after_warm_up = samples
        .iter()
        .filter(|(secs, ..)| *secs >= WARM_UP.as_secs());
    let warm_kib = after_warm_up.clone().map(|(_, kib, _)| *kib).next();
    let largest_kib = after_warm_up.map(|(_, kib, _)| *kib).max();
    let (Some(warm_kib), Some(largest_kib)) = (warm_kib, largest_kib) else {
        panic!("no sample after the warm-up");
    };
    let growth = largest_kib - warm_kib;
    eprintln!(
        "soak: growth after the {WARM_UP:?} warm-up: {growth} KiB \
         (keeping every claim would take over {} KiB)",
        claims * 24 / 1024
    );
    assert!(
        growth <= MAX_GROWTH_KIB,
        "memory grew by {growth} KiB after the warm-up"
    );
    // Expired keys are swept: about 40,000 live keys, at most twice that held.
    assert!(store.len() < 100_000, "{} keys held", store.len());
}
