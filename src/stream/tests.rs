//! The metered body against funds in memory.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt as _;
use http_body_util::BodyExt as _;

use super::body::MeteredBody;
use super::pace::Config;
use crate::method::{Balance, Meter, MeterError, MeterFuture};
use crate::protocol::{Receipt, Timestamp};

/// A body of `items`, each of `units`, on `funds` that wait for nothing.
fn metered<S>(items: S, units: u128, funds: &Arc<Funds>, reserve: u128) -> MeteredBody
where
    S: futures_core::Stream + Send + 'static,
    S::Item: AsRef<str> + Send + 'static,
{
    static FUNDS: AtomicUsize = AtomicUsize::new(0);
    let config = Config {
        wait: Duration::ZERO,
        reserve,
        ..Config::default()
    };
    let meter: Arc<dyn Meter> = funds.clone();
    // Each body its own funds, as far as waiting streams are counted.
    let key = format!("test {}", FUNDS.fetch_add(1, Ordering::SeqCst));
    MeteredBody::new(items, move |_| units, meter, config, key)
}

/// Funds in memory: `paid` units authorized, `spent` debited.
#[derive(Debug, Default)]
struct Funds {
    state: Mutex<(u128, u128)>,
    debits: Mutex<Vec<u128>>,
}

impl Funds {
    fn paid(paid: u128) -> Arc<Self> {
        let funds = Self::default();
        funds.state.lock().unwrap().0 = paid;
        Arc::new(funds)
    }

    fn spent(&self) -> u128 {
        self.state.lock().unwrap().1
    }
}

impl Meter for Funds {
    fn debit(&self, units: u128) -> MeterFuture<'_, Result<Balance, MeterError>> {
        let mut state = self.state.lock().unwrap();
        self.debits.lock().unwrap().push(units);
        let result = if state.1 + units > state.0 {
            Err(MeterError::Exhausted {
                need: serde_json::Map::new(),
                balance: Balance::new(state.0, state.1, u128::MAX),
            })
        } else {
            state.1 += units;
            Ok(Balance::new(state.0, state.1, u128::MAX))
        };
        Box::pin(std::future::ready(result))
    }

    fn release(&self, units: u128) -> MeterFuture<'_, Result<Balance, MeterError>> {
        let mut state = self.state.lock().unwrap();
        state.1 -= units;
        Box::pin(std::future::ready(Ok(Balance::new(state.0, state.1, 0))))
    }

    fn wait(
        &self,
        _: Balance,
        _: Duration,
    ) -> MeterFuture<'_, Result<Option<Balance>, MeterError>> {
        Box::pin(std::future::ready(Ok(None)))
    }

    fn receipt(&self) -> MeterFuture<'_, Result<Receipt, MeterError>> {
        let receipt = Receipt::new("test", Timestamp::now(), self.spent().to_string());
        Box::pin(std::future::ready(Ok(receipt)))
    }
}

fn body(funds: &Arc<Funds>, items: usize, reserve: u128) -> MeteredBody {
    let words = futures_util::stream::iter((0..items).map(|i| format!("w{i}")));
    metered(words, 1, funds, reserve)
}

#[tokio::test]
async fn debits_ahead_and_gives_back_what_was_not_sent_at_the_end() {
    let funds = Funds::paid(100);
    let text = body(&funds, 5, 16).collect().await.unwrap().to_bytes();
    let text = std::str::from_utf8(&text).unwrap();
    assert_eq!(text.matches("event: message").count(), 5);
    // The receipt is written after the unused 11 units came back.
    assert!(text.ends_with("\n\n"), "{text}");
    assert!(text.contains("\"reference\":\"5\""), "{text}");
    assert_eq!(*funds.debits.lock().unwrap(), [16]);
    assert_eq!(funds.spent(), 5);
}

#[tokio::test]
async fn near_the_limit_it_debits_exactly() {
    let funds = Funds::paid(3);
    let text = body(&funds, 5, 16).collect().await.unwrap().to_bytes();
    let text = std::str::from_utf8(&text).unwrap();
    assert_eq!(text.matches("event: message").count(), 3);
    assert_eq!(text.matches("event: payment-need-voucher").count(), 1);
    assert_eq!(funds.spent(), 3);
}

#[tokio::test]
async fn a_client_that_goes_away_gets_the_unsent_reservation_back() {
    let funds = Funds::paid(100);
    let mut body = body(&funds, 50, 16);
    for _ in 0..3 {
        body.frame().await.unwrap().unwrap();
    }
    assert_eq!(funds.spent(), 16, "one reservation");
    drop(body);
    for _ in 0..100 {
        if funds.spent() == 3 {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("spent {} after the drop, 3 sent", funds.spent());
}

#[tokio::test]
async fn items_are_pulled_only_when_the_client_reads() {
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = pulled.clone();
    let words = futures_util::stream::iter(0..1000).map(move |i| {
        counter.fetch_add(1, Ordering::SeqCst);
        format!("w{i}")
    });
    let mut body = metered(words, 1, &Funds::paid(10_000), 16);
    body.frame().await.unwrap().unwrap();
    body.frame().await.unwrap().unwrap();
    assert_eq!(pulled.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_stream_on_empty_funds_pulls_nothing_and_asks() {
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = pulled.clone();
    let words = futures_util::stream::iter(0..5).map(move |i| {
        counter.fetch_add(1, Ordering::SeqCst);
        format!("w{i}")
    });
    let text = metered(words, 1, &Funds::paid(0), 16)
        .collect()
        .await
        .unwrap()
        .to_bytes();
    let text = std::str::from_utf8(&text).unwrap();
    assert!(text.starts_with("event: payment-need-voucher"), "{text}");
    assert!(text.contains("event: payment-receipt"), "{text}");
    assert_eq!(pulled.load(Ordering::SeqCst), 0);
}

/// Items of three units, five units paid and debited ahead: the second
/// item is short, and while the stream waits the two units debited ahead
/// are given back, so `spent` is what was sent.
#[tokio::test]
async fn a_paused_stream_gives_back_what_it_debited_ahead() {
    let funds = Funds::paid(5);
    let words = futures_util::stream::iter(["a", "b", "c"]);
    let mut body = metered(words, 3, &funds, 5);
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert!(first.starts_with(b"event: message"));
    let need = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert!(need.starts_with(b"event: payment-need-voucher"), "{need:?}");
    assert_eq!(funds.spent(), 3, "what was sent, while the stream waits");
}
