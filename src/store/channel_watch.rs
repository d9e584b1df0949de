//! Waiting for a channel to change: a stream paused for a voucher resumes
//! when the voucher is accepted, on this instance or on another one.
//!
//! A [`ChannelWatch`] is taken before the channel is read, so an update
//! between the read and the wait is never missed. It wakes after an update
//! of its channel, sometimes spuriously: the waiter reads the channel again
//! and decides. The stores of the crate notify:
//!
//! - [`MemoryChannelStore`](super::MemoryChannelStore): every update wakes
//!   the watches of its channel, in this process;
//! - `RedisChannelStore`: the update script publishes the channel id on a
//!   Redis pub/sub channel, and one subscriber task per store wakes the
//!   local watches; a watch also wakes every second in case a message was
//!   lost while the subscription reconnected.
//!
//! A store of your own that does not notify gets watches that wake on an
//! interval ([`ChannelWatch::polling`]): correct, only slower to resume.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use alloy_primitives::B256;
use tokio::sync::watch;

/// How often a watch of a store that does not notify wakes.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(250);

/// A watch on one channel (see [`ChannelStore::watch`](super::ChannelStore::watch)).
#[derive(Debug)]
pub struct ChannelWatch {
    notified: Option<watch::Receiver<u64>>,
    fallback: Option<Duration>,
}

impl ChannelWatch {
    /// A watch that wakes every `interval`, for stores that cannot notify.
    pub fn polling(interval: Duration) -> Self {
        Self {
            notified: None,
            fallback: Some(interval),
        }
    }

    /// Completes after an update of the channel since the watch was taken
    /// or since the last completion (or spuriously; a store's fallback
    /// interval at the latest).
    pub async fn changed(&mut self) {
        match (&mut self.notified, self.fallback) {
            (Some(receiver), None) => {
                if receiver.changed().await.is_err() {
                    // The notifier is gone: the channel cannot change here.
                    std::future::pending::<()>().await;
                }
            }
            (Some(receiver), Some(interval)) => {
                let _ = tokio::time::timeout(interval, receiver.changed()).await;
            }
            (None, Some(interval)) => tokio::time::sleep(interval).await,
            (None, None) => std::future::pending().await,
        }
    }
}

/// Wakes the watches of a channel: one `watch` sender per watched channel,
/// removed when its last watch is dropped.
#[derive(Clone, Default)]
pub(crate) struct Notifier {
    senders: Arc<Mutex<HashMap<B256, watch::Sender<u64>>>>,
}

impl Notifier {
    /// A watch on `id`, woken by [`notify`](Self::notify); `fallback` adds
    /// a periodic wake.
    pub(crate) fn watch(&self, id: B256, fallback: Option<Duration>) -> ChannelWatch {
        let mut senders = self.senders.lock().unwrap_or_else(PoisonError::into_inner);
        // Forget channels nobody watches any more.
        if senders.len() >= 64 {
            senders.retain(|_, sender| sender.receiver_count() > 0);
        }
        let receiver = senders
            .entry(id)
            .or_insert_with(|| watch::channel(0).0)
            .subscribe();
        ChannelWatch {
            notified: Some(receiver),
            fallback,
        }
    }

    /// Wakes the watches of `id`, if any.
    pub(crate) fn notify(&self, id: &B256) {
        let senders = self.senders.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = senders.get(id) {
            sender.send_modify(|version| *version = version.wrapping_add(1));
        }
    }

    /// A handle that does not keep the notifier (and its store) alive.
    #[cfg(feature = "redis")]
    pub(crate) fn downgrade(&self) -> WeakNotifier {
        WeakNotifier(Arc::downgrade(&self.senders))
    }
}

/// A [`Notifier`] held by a background task, which ends with the store.
#[cfg(feature = "redis")]
#[derive(Debug)]
pub(crate) struct WeakNotifier(std::sync::Weak<Mutex<HashMap<B256, watch::Sender<u64>>>>);

#[cfg(feature = "redis")]
impl WeakNotifier {
    /// Whether the store still exists.
    pub(crate) fn is_alive(&self) -> bool {
        self.0.strong_count() > 0
    }

    /// Wakes the watches of `id`; `false` when the store is gone.
    pub(crate) fn notify(&self, id: &B256) -> bool {
        let Some(senders) = self.0.upgrade() else {
            return false;
        };
        Notifier { senders }.notify(id);
        true
    }
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier").finish_non_exhaustive()
    }
}

/// How often a watch wakes even without a message.
#[cfg(feature = "redis")]
pub(crate) const LISTENER_FALLBACK: Duration = Duration::from_secs(1);

/// Wakes the local watches of the channels announced on `topic`, until the
/// store is dropped; says in `subscribed` whether it is subscribed, and
/// reconnects after a second when the connection fails.
#[cfg(feature = "redis")]
pub(crate) async fn listen(
    client: redis::Client,
    topic: String,
    notifier: WeakNotifier,
    subscribed: tokio::sync::watch::Sender<bool>,
) {
    use futures_util::StreamExt as _;
    while notifier.is_alive() {
        let subscribing = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&topic).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        if let Ok(pubsub) = subscribing.await {
            subscribed.send_replace(true);
            let mut messages = pubsub.into_on_message();
            while let Some(message) = messages.next().await {
                let Ok(id) = message.get_payload::<String>() else {
                    continue;
                };
                let Ok(id) = id.parse::<B256>() else {
                    continue;
                };
                if !notifier.notify(&id) {
                    return;
                }
            }
            subscribed.send_replace(false);
        }
        tokio::time::sleep(LISTENER_FALLBACK).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_notification_after_the_watch_wakes_it_and_others_do_not() {
        let notifier = Notifier::default();
        let (id, other) = (B256::repeat_byte(1), B256::repeat_byte(2));
        let mut watch = notifier.watch(id, None);
        notifier.notify(&other);
        let early = tokio::time::timeout(Duration::from_millis(50), watch.changed()).await;
        assert!(early.is_err(), "another channel's update woke the watch");
        notifier.notify(&id);
        tokio::time::timeout(Duration::from_secs(1), watch.changed())
            .await
            .expect("the channel's update wakes its watch");
    }

    #[tokio::test]
    async fn a_notification_before_the_wait_is_not_missed() {
        let notifier = Notifier::default();
        let id = B256::repeat_byte(3);
        let mut watch = notifier.watch(id, None);
        notifier.notify(&id);
        tokio::time::timeout(Duration::from_secs(1), watch.changed())
            .await
            .expect("an update between the watch and the wait is seen");
    }

    #[tokio::test]
    async fn a_polling_watch_wakes_on_its_interval() {
        let mut watch = ChannelWatch::polling(Duration::from_millis(10));
        tokio::time::timeout(Duration::from_secs(1), watch.changed())
            .await
            .expect("wakes");
    }
}
