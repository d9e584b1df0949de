//! The channel store: what the server knows of each payment channel of the
//! session intent, updated by one atomic read-modify-write per request.
//!
//! A [`ChannelStore`] keeps one [`Channel`] per channel id and applies
//! [`ChannelUpdate`]s to it atomically, whichever instance sends them: of
//! any number of concurrent updates of one channel, each sees the result of
//! the ones before it (linearizable per channel). The transitions are
//! [`ChannelState`]'s, so a voucher is accepted and a request debited
//! exactly as the spec's "Server-Side Accounting" says, and both are
//! persisted before the handler runs.
//!
//! Two stores come with the crate: [`MemoryChannelStore`] (one instance; a
//! lock per shard) and `RedisChannelStore` (feature `redis`: one Lua script
//! per update, so any number of instances share channels and never count a
//! unit twice).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use alloy_primitives::{Address, B256, Bytes};

use super::StoreError;
use super::accounting::{AccountingError, ChannelState};
use super::channel_watch::{ChannelWatch, DEFAULT_POLL_INTERVAL, Notifier};

/// One channel as the server keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Channel {
    /// The accounting: deposit, highest voucher, spent, settled, close
    /// state.
    pub state: ChannelState,
    /// Who opened (and funds) the channel.
    pub payer: Address,
    /// Who signs its vouchers (the authorized signer, else the payer), as
    /// read from the escrow.
    pub signer: Address,
    /// The signature of the highest accepted voucher.
    pub voucher_signature: Bytes,
    /// The voucher accepted before the highest (its amount), kept so that
    /// a payer vouching ahead of its use can still be settled at what it
    /// consumed; 0 with no signature when there is none.
    pub prior_amount: u128,
    /// The signature of the prior voucher (empty when there is none).
    pub prior_signature: Bytes,
}

impl Channel {
    /// A channel just opened on chain with `deposit`, whose first voucher
    /// is `cumulative` signed with `signature`.
    pub fn opened(
        payer: Address,
        signer: Address,
        deposit: u128,
        cumulative: u128,
        signature: Bytes,
    ) -> Self {
        let mut state = ChannelState::opened(deposit);
        state.accepted_cumulative = cumulative;
        Self {
            state,
            payer,
            signer,
            voucher_signature: signature,
            prior_amount: 0,
            prior_signature: Bytes::new(),
        }
    }

    /// Whether accepted vouchers hold value not yet settled on chain.
    pub fn unsettled(&self) -> u128 {
        self.state
            .accepted_cumulative
            .saturating_sub(self.state.settled)
    }

    /// The highest voucher the payee may settle now, with its signature:
    /// one that captures no more than was [consumed](ChannelState::consumed)
    /// and more than is settled. A payer that vouched ahead of its use is
    /// settled at its prior voucher, or not yet.
    pub fn settleable(&self) -> Option<(u128, &Bytes)> {
        let state = &self.state;
        let consumed = state.consumed();
        [
            (state.accepted_cumulative, &self.voucher_signature),
            (self.prior_amount, &self.prior_signature),
        ]
        .into_iter()
        .find(|(amount, signature)| {
            !signature.is_empty() && *amount <= consumed && *amount > state.settled
        })
    }
}

/// One atomic change of a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChannelUpdate {
    /// A paid request: accepts the voucher (if any; its signature already
    /// checked against the channel's signer), then debits `cost`. A voucher
    /// that is accepted stays accepted even when the debit is refused.
    Pay {
        /// The voucher, if the request carries one.
        voucher: Option<SignedVoucher>,
        /// The least rise of a new voucher.
        min_delta: u128,
        /// What the request costs.
        cost: u128,
    },
    /// A metered stream's debit: `cost` debited as `Pay` debits it (no
    /// voucher), and the stream's hold replaced: of `held`, the `reported`
    /// the stream held before is taken out (delivered by now) and `hold`
    /// (what of this debit is not delivered yet) put in. A refused debit
    /// changes nothing.
    Hold {
        /// What is debited.
        cost: u128,
        /// What this stream held before (now delivered).
        reported: u128,
        /// What of `cost` the stream holds ahead of delivery.
        hold: u128,
    },
    /// Gives back `amount` debited ahead of delivery and not delivered (a
    /// metered stream's unused reservation) and ends the stream's hold of
    /// `held`: both lower by them, never below zero. Nothing else changes,
    /// on a closed channel too.
    Release {
        /// What `spent` gives back.
        amount: u128,
        /// What the stream had reported held.
        held: u128,
    },
    /// The payee's cooperative close with a voucher of `amount`: refused
    /// below what was consumed or settled, or above the deposit (nothing
    /// changes); else the channel stops serving, and settlement leaves it
    /// alone until `until` (Unix seconds) while the close is in flight.
    Close {
        /// The close voucher's amount.
        amount: u128,
        /// Until when the close may be in flight.
        until: u64,
    },
    /// The deposit read back from the escrow after a top-up (never lowers
    /// it).
    Deposit(u128),
    /// An amount settled on chain (never lowers what is recorded).
    Settled(u128),
    /// The payer asked the escrow to close: no more service.
    CloseRequested,
    /// The channel was closed on chain, having settled `settled`.
    Finalized {
        /// What the escrow paid the payee in all.
        settled: u128,
    },
}

/// A voucher whose signature was checked: the signer it recovers to is
/// compared with the channel's within the update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedVoucher {
    /// The cumulative amount.
    pub amount: u128,
    /// Its signature.
    pub signature: Bytes,
    /// Who signed it.
    pub signer: Address,
}

/// A channel after an update, and whether the update's own checks passed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Applied {
    /// The channel as stored after the update.
    pub channel: Channel,
    /// `Err` when the voucher or the debit was refused (the channel then
    /// holds what was accepted before the refusal).
    pub outcome: Result<(), AccountingError>,
}

/// Applies `update` to `channel` in place: the one definition of the
/// transitions, which the Redis script mirrors (and is tested against).
///
/// # Errors
///
/// The [`AccountingError`] of a refused voucher (nothing changed) or a
/// refused debit (the voucher before it stays accepted).
pub fn apply_update(channel: &mut Channel, update: &ChannelUpdate) -> Result<(), AccountingError> {
    if let ChannelUpdate::Pay {
        voucher,
        min_delta,
        cost,
    } = update
    {
        if let Some(voucher) = voucher {
            // The order the Redis script checks in: closed, closing, signer.
            if channel.state.finalized {
                return Err(AccountingError::Closed);
            }
            if channel.state.close_requested {
                return Err(AccountingError::CloseRequested);
            }
            if voucher.signer != channel.signer {
                return Err(AccountingError::SignerMismatch);
            }
            let before = channel.state.accepted_cumulative;
            channel.state.accept_voucher(voucher.amount, *min_delta)?;
            if channel.state.accepted_cumulative != before {
                let prior =
                    std::mem::replace(&mut channel.voucher_signature, voucher.signature.clone());
                if !prior.is_empty() {
                    channel.prior_amount = before;
                    channel.prior_signature = prior;
                }
            }
        }
        return channel.state.charge(*cost);
    }
    let state = &mut channel.state;
    match update {
        ChannelUpdate::Pay { .. } => unreachable!("handled above"),
        ChannelUpdate::Hold {
            cost,
            reported,
            hold,
        } => {
            state.charge(*cost)?;
            state.held = state.held.saturating_sub(*reported).saturating_add(*hold);
            Ok(())
        }
        ChannelUpdate::Release { amount, held } => {
            state.spent = state.spent.saturating_sub(*amount);
            state.held = state.held.saturating_sub(*held);
            Ok(())
        }
        ChannelUpdate::Close { amount, until } => {
            state.check_close(*amount)?;
            state.close_requested = true;
            state.closing_until = state.closing_until.max(*until);
            Ok(())
        }
        ChannelUpdate::Deposit(deposit) => {
            state.deposit = state.deposit.max(*deposit);
            Ok(())
        }
        ChannelUpdate::Settled(settled) => {
            state.settled = state.settled.max(*settled);
            Ok(())
        }
        ChannelUpdate::CloseRequested => {
            state.close_requested = true;
            Ok(())
        }
        ChannelUpdate::Finalized { settled } => {
            state.settled = state.settled.max(*settled);
            state.finalized = true;
            Ok(())
        }
    }
}

/// Channels, updated atomically per channel id.
///
/// Implementations must be linearizable per channel and must not report an
/// update they did not persist: an error (the request then fails closed
/// with a 503) when they cannot tell.
pub trait ChannelStore: Send + Sync + 'static {
    /// Stores `channel` under `id` unless a channel is already there, and
    /// returns the stored one (the existing one, for a retried open).
    fn insert(
        &self,
        id: B256,
        channel: Channel,
    ) -> impl Future<Output = Result<Channel, StoreError>> + Send;

    /// The channel `id`, if stored.
    fn get(&self, id: B256) -> impl Future<Output = Result<Option<Channel>, StoreError>> + Send;

    /// Applies `update` to channel `id` atomically; `None` when no such
    /// channel is stored.
    fn update(
        &self,
        id: B256,
        update: ChannelUpdate,
    ) -> impl Future<Output = Result<Option<Applied>, StoreError>> + Send;

    /// The ids of the channels not yet finalized (settlement and the close
    /// watcher go through them).
    fn open_channels(&self) -> impl Future<Output = Result<Vec<B256>, StoreError>> + Send;

    /// A watch on channel `id`, woken after its updates by any instance
    /// sharing the store (see [`ChannelWatch`]). Take it before reading
    /// the channel. By default a watch that wakes every
    /// [`DEFAULT_POLL_INTERVAL`]: override it when the store can notify.
    fn watch(&self, id: B256) -> impl Future<Output = Result<ChannelWatch, StoreError>> + Send {
        let _ = id;
        std::future::ready(Ok(ChannelWatch::polling(DEFAULT_POLL_INTERVAL)))
    }

    /// Whether channels survive a restart of this server process and are
    /// shared by every instance serving the same payee (a shared Redis
    /// with persistence is; memory is not). A session refuses a store that
    /// is not unless the deployer opts in: vouchers accepted and not yet
    /// settled are lost with it. `false` by default.
    fn is_durable(&self) -> bool {
        false
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

trait DynChannelStore: Send + Sync + 'static {
    fn insert(&self, id: B256, channel: Channel) -> BoxFuture<'_, Result<Channel, StoreError>>;
    fn get(&self, id: B256) -> BoxFuture<'_, Result<Option<Channel>, StoreError>>;
    fn update(
        &self,
        id: B256,
        update: ChannelUpdate,
    ) -> BoxFuture<'_, Result<Option<Applied>, StoreError>>;
    fn open_channels(&self) -> BoxFuture<'_, Result<Vec<B256>, StoreError>>;
    fn watch(&self, id: B256) -> BoxFuture<'_, Result<ChannelWatch, StoreError>>;
    fn is_durable(&self) -> bool;
}

impl<S: ChannelStore> DynChannelStore for S {
    fn insert(&self, id: B256, channel: Channel) -> BoxFuture<'_, Result<Channel, StoreError>> {
        Box::pin(ChannelStore::insert(self, id, channel))
    }

    fn get(&self, id: B256) -> BoxFuture<'_, Result<Option<Channel>, StoreError>> {
        Box::pin(ChannelStore::get(self, id))
    }

    fn update(
        &self,
        id: B256,
        update: ChannelUpdate,
    ) -> BoxFuture<'_, Result<Option<Applied>, StoreError>> {
        Box::pin(ChannelStore::update(self, id, update))
    }

    fn open_channels(&self) -> BoxFuture<'_, Result<Vec<B256>, StoreError>> {
        Box::pin(ChannelStore::open_channels(self))
    }

    fn watch(&self, id: B256) -> BoxFuture<'_, Result<ChannelWatch, StoreError>> {
        Box::pin(ChannelStore::watch(self, id))
    }

    fn is_durable(&self) -> bool {
        ChannelStore::is_durable(self)
    }
}

/// A cheaply cloneable handle to any [`ChannelStore`].
#[derive(Clone)]
pub struct SharedChannelStore {
    inner: Arc<dyn DynChannelStore>,
    name: &'static str,
}

impl SharedChannelStore {
    /// Wraps a store.
    pub fn new<S: ChannelStore>(store: S) -> Self {
        Self {
            inner: Arc::new(store),
            name: std::any::type_name::<S>(),
        }
    }

    /// See [`ChannelStore::insert`].
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot answer.
    pub async fn insert(&self, id: B256, channel: Channel) -> Result<Channel, StoreError> {
        self.inner.insert(id, channel).await
    }

    /// See [`ChannelStore::get`].
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot answer.
    pub async fn get(&self, id: B256) -> Result<Option<Channel>, StoreError> {
        self.inner.get(id).await
    }

    /// See [`ChannelStore::update`].
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot answer.
    pub async fn update(
        &self,
        id: B256,
        update: ChannelUpdate,
    ) -> Result<Option<Applied>, StoreError> {
        self.inner.update(id, update).await
    }

    /// See [`ChannelStore::open_channels`].
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot answer.
    pub async fn open_channels(&self) -> Result<Vec<B256>, StoreError> {
        self.inner.open_channels().await
    }

    /// See [`ChannelStore::watch`].
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot answer.
    pub async fn watch(&self, id: B256) -> Result<ChannelWatch, StoreError> {
        self.inner.watch(id).await
    }

    /// See [`ChannelStore::is_durable`].
    pub fn is_durable(&self) -> bool {
        self.inner.is_durable()
    }
}

impl fmt::Debug for SharedChannelStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SharedChannelStore")
            .field(&self.name)
            .finish()
    }
}

/// Shards of the memory store: updates of different channels rarely wait
/// for each other.
const SHARDS: usize = 16;

/// Channels in this process's memory, for one instance: a lock per shard,
/// held only for the update itself. Forgotten at restart: the chain keeps
/// deposits and settlements, but vouchers accepted since the last
/// settlement are lost (the payee's loss, bounded by what the settlement
/// interval lets accumulate), so a session takes this store only with
/// [`volatile_channel_store`](crate::tempo::session::TempoSessionBuilder::volatile_channel_store).
/// Several instances must share one `RedisChannelStore` instead: two
/// stores for one payee each count the same vouchers.
#[derive(Default)]
pub struct MemoryChannelStore {
    shards: [Mutex<HashMap<B256, Channel>>; SHARDS],
    notifier: Notifier,
}

impl MemoryChannelStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn shard(&self, id: &B256) -> std::sync::MutexGuard<'_, HashMap<B256, Channel>> {
        self.shards[usize::from(id[0]) % SHARDS]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for MemoryChannelStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryChannelStore").finish_non_exhaustive()
    }
}

impl ChannelStore for MemoryChannelStore {
    fn insert(
        &self,
        id: B256,
        channel: Channel,
    ) -> impl Future<Output = Result<Channel, StoreError>> + Send {
        let stored = self.shard(&id).entry(id).or_insert(channel).clone();
        self.notifier.notify(&id);
        std::future::ready(Ok(stored))
    }

    fn get(&self, id: B256) -> impl Future<Output = Result<Option<Channel>, StoreError>> + Send {
        std::future::ready(Ok(self.shard(&id).get(&id).cloned()))
    }

    fn update(
        &self,
        id: B256,
        update: ChannelUpdate,
    ) -> impl Future<Output = Result<Option<Applied>, StoreError>> + Send {
        let mut shard = self.shard(&id);
        let applied = shard.get_mut(&id).map(|channel| {
            let mut next = channel.clone();
            let outcome = apply_update(&mut next, &update);
            // A refused voucher changes nothing; a refused debit keeps the
            // voucher accepted before it.
            *channel = next.clone();
            Applied {
                channel: next,
                outcome,
            }
        });
        drop(shard);
        // Watchers wait for vouchers, deposits and closes, not debits.
        let debit_only = matches!(
            update,
            ChannelUpdate::Pay { voucher: None, .. }
                | ChannelUpdate::Hold { .. }
                | ChannelUpdate::Release { .. }
        );
        if applied.is_some() && !debit_only {
            self.notifier.notify(&id);
        }
        std::future::ready(Ok(applied))
    }

    fn open_channels(&self) -> impl Future<Output = Result<Vec<B256>, StoreError>> + Send {
        let ids = self
            .shards
            .iter()
            .flat_map(|shard| {
                shard
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .iter()
                    .filter(|(_, c)| !c.state.finalized)
                    .map(|(id, _)| *id)
                    .collect::<Vec<_>>()
            })
            .collect();
        std::future::ready(Ok(ids))
    }

    fn watch(&self, id: B256) -> impl Future<Output = Result<ChannelWatch, StoreError>> + Send {
        std::future::ready(Ok(self.notifier.watch(id, None)))
    }
}
