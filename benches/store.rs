//! Claims per second of the stores; the figures are in `benches/README.md`.
//!
//! - `store/memory`: a claim of a fresh key (the normal case: every proof is
//!   new), a claim of a live key (a replay, refused), and fresh keys from two
//!   threads at once. Keys are 43 characters, as challenge ids are; keys live
//!   100 ms, so expired keys are swept as they would be in service.
//! - `store/redis` (feature `redis`): a `PING` round trip for scale, then
//!   claims of fresh keys one at a time and 64 in flight, against a
//!   `redis-server` this benchmark starts on loopback.

// `criterion_group!` defines an undocumented public function.
#![allow(missing_docs)]

#[cfg(feature = "redis")]
#[path = "../tests/support/redis_server.rs"]
mod redis_server;

use std::fmt::Write as _;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tower_mpp::store::{MemoryStore, Store};

const TTL: Duration = Duration::from_millis(100);

/// Sets `buffer` to a 43-character key unique to `thread` and `n`.
fn key(buffer: &mut String, thread: u64, n: u64) {
    buffer.clear();
    write!(buffer, "{thread:x}{n:042x}").expect("writing to a String");
}

/// The output of a memory store's future, which is ready at once.
fn ready<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("a memory store future was pending"),
    }
}

fn memory(c: &mut Criterion) {
    let mut group = c.benchmark_group("store/memory");
    group.throughput(Throughput::Elements(1));
    // Room for every key live at once at up to 50 million claims a second.
    let store = MemoryStore::with_capacity(5_000_000);
    let mut buffer = String::new();

    let mut n = 0;
    group.bench_function("claim fresh key, 1 thread", |b| {
        b.iter_batched(
            || {
                n += 1;
                let mut buffer = String::new();
                key(&mut buffer, 0, n);
                buffer
            },
            |key| {
                assert!(ready(store.claim(black_box(&key), TTL)).expect("claim"));
                key
            },
            BatchSize::SmallInput,
        );
    });

    key(&mut buffer, 0xf, 0);
    assert!(ready(store.claim(&buffer, Duration::from_secs(3600))).expect("claim"));
    group.bench_function("claim live key (refused), 1 thread", |b| {
        b.iter(|| assert!(!ready(store.claim(black_box(&buffer), TTL)).expect("claim")));
    });

    let mut base = 0;
    group.bench_function("claim fresh key, 2 threads", |b| {
        b.iter_custom(|iters| {
            let keys = |thread| {
                let share = iters / 2 + u64::from(thread == 1) * (iters % 2);
                (base..base + share)
                    .map(|n| {
                        let mut buffer = String::new();
                        key(&mut buffer, thread, n);
                        buffer
                    })
                    .collect::<Vec<_>>()
            };
            let keys = [keys(1), keys(2)];
            base += iters;
            let start = Instant::now();
            std::thread::scope(|scope| {
                for keys in &keys {
                    let store = &store;
                    scope.spawn(move || {
                        for key in keys {
                            assert!(ready(store.claim(key, TTL)).expect("claim"));
                        }
                    });
                }
            });
            start.elapsed()
        });
    });
    group.finish();
}

#[cfg(feature = "redis")]
fn redis(c: &mut Criterion) {
    use std::sync::atomic::{AtomicU64, Ordering};

    use redis_server::RedisServer;
    use tower_mpp::store::RedisStore;

    const IN_FLIGHT: usize = 64;
    let ttl = Duration::from_secs(60);

    let server = RedisServer::start();
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let store = runtime
        .block_on(RedisStore::connect(&server.url()))
        .expect("connect");
    let ping = runtime
        .block_on(
            redis::Client::open(server.url())
                .expect("url")
                .get_multiplexed_async_connection(),
        )
        .expect("connect");
    let next = AtomicU64::new(0);

    let mut group = c.benchmark_group("store/redis");
    group.throughput(Throughput::Elements(1));
    group.bench_function("PING round trip", |b| {
        b.to_async(&runtime).iter(|| {
            let mut ping = ping.clone();
            async move {
                redis::cmd("PING")
                    .query_async::<()>(&mut ping)
                    .await
                    .expect("PING");
            }
        });
    });
    group.bench_function("claim fresh key, 1 in flight", |b| {
        b.to_async(&runtime).iter(|| {
            let mut buffer = String::new();
            key(&mut buffer, 1, next.fetch_add(1, Ordering::Relaxed));
            let store = &store;
            async move { assert!(store.claim(&buffer, ttl).await.expect("claim")) }
        });
    });
    group.bench_function("claim fresh key, 64 in flight", |b| {
        b.to_async(&runtime).iter_custom(|iters| {
            let base = next.fetch_add(iters, Ordering::Relaxed);
            let store = store.clone();
            async move {
                let start = Instant::now();
                let tasks: Vec<_> = (0..IN_FLIGHT)
                    .map(|task| {
                        let store = store.clone();
                        tokio::spawn(async move {
                            let mut buffer = String::new();
                            for n in (base..base + iters).skip(task).step_by(IN_FLIGHT) {
                                key(&mut buffer, 2, n);
                                assert!(store.claim(&buffer, ttl).await.expect("claim"));
                            }
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.expect("claims");
                }
                start.elapsed()
            }
        });
    });
    group.finish();
    drop(server);
}

#[cfg(not(feature = "redis"))]
fn redis(_: &mut Criterion) {
    eprintln!("store/redis: skipped, run with --features redis");
}

criterion_group!(store, memory, redis);
criterion_main!(store);
