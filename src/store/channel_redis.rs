//! Channels shared by several instances through Redis: one hash per
//! channel, updated by one Lua script (atomic in Redis), so concurrent
//! requests on one channel, at any instance, are applied one after the
//! other and never count a unit twice.
//!
//! Amounts are exact `u128`s, beyond what Lua's numbers hold exactly: the
//! hash keeps them as 40-digit zero-padded decimal strings, which compare
//! as strings, and the script adds them digit by digit. The script mirrors
//! [`apply_update`](super::channel::apply_update); a randomized test runs
//! both on the same updates and compares every result.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use alloy_primitives::{Address, B256, hex};
use redis::{Script, Value};

use super::accounting::{AccountingError, ChannelState};
use super::channel::{Applied, Channel, ChannelStore, ChannelUpdate};
use super::channel_watch::{ChannelWatch, LISTENER_FALLBACK, Notifier, listen};
use super::redis::{RedisStore, UnexpectedReply};
use super::{StoreError, StoreErrorKind};

/// Digits of a stored amount: `u128::MAX` has 39, a sum of two has 40.
const WIDTH: usize = 40;

/// The update script. `KEYS[1]` the channel's hash, `KEYS[2]` the set of
/// open channels, `KEYS[3]` the pub/sub channel its changes are announced
/// on (a raised voucher or deposit, a close request or the close: what a
/// paused stream waits for); `ARGV[1]` the operation, `ARGV[2]` the
/// channel id, then the operation's arguments.
const SCRIPT: &str = r"
local ZERO = string.rep('0', 40)
local function add(x, y)
  local out, carry = {}, 0
  for i = 40, 1, -1 do
    local d = x:byte(i) + y:byte(i) - 96 + carry
    if d >= 10 then d, carry = d - 10, 1 else carry = 0 end
    out[i] = string.char(d + 48)
  end
  return table.concat(out)
end
local function sub(x, y)
  if x < y then return ZERO end
  local out, borrow = {}, 0
  for i = 40, 1, -1 do
    local d = x:byte(i) - y:byte(i) - borrow
    if d < 0 then d, borrow = d + 10, 1 else borrow = 0 end
    out[i] = string.char(d + 48)
  end
  return table.concat(out)
end
local key, open, op = KEYS[1], KEYS[2], ARGV[1]
local FIELDS = {'d', 'a', 'sp', 'st', 'cr', 'f', 'py', 'sg', 'sig', 'h', 'cu', 'pa', 'psig'}
-- Fields a channel stored by an older version lacks read as their zero.
local DEFAULTS = {h = ZERO, cu = ZERO, pa = ZERO, psig = ''}
local function get(field)
  local value = redis.call('HGET', key, field)
  if value then return value end
  return DEFAULTS[field]
end
local function state(status)
  local c = redis.call('HMGET', key, unpack(FIELDS))
  local out = {status}
  for i, field in ipairs(FIELDS) do out[i + 1] = c[i] or DEFAULTS[field] end
  return out
end
if op == 'insert' then
  if redis.call('EXISTS', key) == 0 then
    local values = {}
    for i, field in ipairs(FIELDS) do
      values[#values + 1] = field
      values[#values + 1] = ARGV[i + 2]
    end
    redis.call('HSET', key, unpack(values))
    if ARGV[8] == '0' then redis.call('SADD', open, ARGV[2]) end
  end
  return state('ok')
end
if redis.call('EXISTS', key) == 0 then return {'missing'} end
local function serviceable()
  if get('f') == '1' then return 'closed' end
  if get('cr') == '1' then return 'close_requested' end
  return nil
end
local function debit(cost)
  local after = add(get('sp'), cost)
  if after > get('a') then return false end
  redis.call('HSET', key, 'sp', after)
  return true
end
if op == 'pay' then
  local refused = serviceable()
  if refused then return state(refused) end
  if ARGV[3] == '1' then
    if ARGV[8] ~= get('sg') then return state('signer_mismatch') end
    local amount, a = ARGV[4], get('a')
    if amount < a then return state('below_accepted') end
    if amount > a then
      if amount < add(a, ARGV[6]) then return state('below_min_delta') end
      if amount > get('d') then return state('above_deposit') end
      local prior = get('sig')
      redis.call('HSET', key, 'a', amount, 'sig', ARGV[5])
      if prior ~= '' then redis.call('HSET', key, 'pa', a, 'psig', prior) end
      redis.call('PUBLISH', KEYS[3], ARGV[2])
    end
  end
  if not debit(ARGV[7]) then return state('insufficient') end
  return state('ok')
end
if op == 'hold' then
  local refused = serviceable()
  if refused then return state(refused) end
  if not debit(ARGV[3]) then return state('insufficient') end
  redis.call('HSET', key, 'h', add(sub(get('h'), ARGV[4]), ARGV[5]))
  return state('ok')
end
if op == 'close' then
  if get('f') == '1' then return state('closed') end
  local least = sub(get('sp'), get('h'))
  if get('st') > least then least = get('st') end
  if ARGV[3] < least then return state('close_below') end
  if ARGV[3] > get('d') then return state('above_deposit') end
  local till = get('cu')
  if ARGV[4] > till then till = ARGV[4] end
  redis.call('HSET', key, 'cr', '1', 'cu', till)
  redis.call('PUBLISH', KEYS[3], ARGV[2])
  return state('ok')
end
if op == 'release' then
  redis.call('HSET', key, 'sp', sub(get('sp'), ARGV[3]), 'h', sub(get('h'), ARGV[4]))
elseif op == 'deposit' then
  if ARGV[3] > get('d') then
    redis.call('HSET', key, 'd', ARGV[3])
    redis.call('PUBLISH', KEYS[3], ARGV[2])
  end
elseif op == 'settled' or op == 'finalized' then
  if ARGV[3] > get('st') then redis.call('HSET', key, 'st', ARGV[3]) end
  if op == 'finalized' then
    redis.call('HSET', key, 'f', '1')
    redis.call('SREM', open, ARGV[2])
    redis.call('PUBLISH', KEYS[3], ARGV[2])
  end
elseif op == 'close_requested' then
  redis.call('HSET', key, 'cr', '1')
  redis.call('PUBLISH', KEYS[3], ARGV[2])
end
return state('ok')
";

/// Channels in Redis, shared by every instance that uses the same Redis
/// and key prefix (those of the [`RedisStore`] it is made from).
///
/// Each channel is a hash `<prefix>channel:<id>`; the ids of the channels
/// not yet finalized are in the set `<prefix>channels:open`. Configure
/// Redis as for [`RedisStore`] (no eviction; persistence if accepted
/// vouchers must survive a restart of Redis: they are money owed).
///
/// Changes a paused stream waits for are published on the pub/sub channel
/// `<prefix>channel-updates`; each store listens there on a connection of
/// its own, opened at its first [`watch`](ChannelStore::watch).
#[derive(Clone)]
pub struct RedisChannelStore {
    redis: RedisStore,
    script: Script,
    notifier: Notifier,
    /// Whether this store's listener is subscribed (started at the first
    /// watch).
    listening: Arc<OnceLock<tokio::sync::watch::Receiver<bool>>>,
    fallback: Duration,
}

impl RedisChannelStore {
    /// Channels in the Redis of `store`, under its prefix.
    pub fn new(store: &RedisStore) -> Self {
        Self {
            redis: store.clone(),
            script: Script::new(SCRIPT),
            notifier: Notifier::default(),
            listening: Arc::new(OnceLock::new()),
            fallback: LISTENER_FALLBACK,
        }
    }

    /// How often a watch wakes without a message (one second by default):
    /// the bound on a paused stream's delay when a message is lost while
    /// the listener reconnects. Each wake reads the channel once.
    #[must_use]
    pub fn watch_fallback(mut self, interval: Duration) -> Self {
        self.fallback = interval;
        self
    }

    fn updates_key(&self) -> String {
        self.redis.key("channel-updates")
    }

    fn channel_key(&self, id: &B256) -> String {
        self.redis.key(&format!("channel:{id}"))
    }

    fn open_key(&self) -> String {
        self.redis.key("channels:open")
    }

    async fn run(&self, id: &B256, op: &str, args: &[String]) -> Result<Reply, StoreError> {
        let mut invocation = self.script.prepare_invoke();
        invocation
            .key(self.channel_key(id))
            .key(self.open_key())
            .key(self.updates_key())
            .arg(op)
            .arg(id.to_string());
        for arg in args {
            invocation.arg(arg);
        }
        let mut connection = self.redis.connection();
        let value: Value = match tokio::time::timeout(
            self.redis.timeout(),
            invocation.invoke_async(&mut connection),
        )
        .await
        {
            Ok(Ok(value)) => value,
            Ok(Err(error)) => return Err(super::redis::redis_error(error)),
            Err(elapsed) => return Err(StoreError::with_source(StoreErrorKind::Timeout, elapsed)),
        };
        Reply::parse(value).ok_or_else(unexpected)
    }
}

impl fmt::Debug for RedisChannelStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisChannelStore")
            .field("redis", &self.redis)
            .finish_non_exhaustive()
    }
}

fn unexpected() -> StoreError {
    StoreError::with_source(StoreErrorKind::Unavailable, UnexpectedReply)
}

/// An amount as stored: 40 digits, zero-padded.
fn padded(amount: u128) -> String {
    format!("{amount:0WIDTH$}")
}

/// An address as stored: lowercase hex, so the script compares it as text.
fn address_text(address: Address) -> String {
    hex::encode_prefixed(address.as_slice())
}

fn flag(set: bool) -> String {
    if set { "1" } else { "0" }.to_owned()
}

/// What the script answers: a status and the channel after the update.
struct Reply {
    status: String,
    channel: Option<Channel>,
}

impl Reply {
    fn parse(value: Value) -> Option<Self> {
        let Value::Array(items) = value else {
            return None;
        };
        let mut texts = items.into_iter().map(|item| match item {
            Value::BulkString(bytes) => String::from_utf8(bytes).ok(),
            Value::SimpleString(text) => Some(text),
            _ => None,
        });
        let status = texts.next()??;
        let fields: Vec<Option<String>> = texts.collect();
        if fields.is_empty() {
            return Some(Self {
                status,
                channel: None,
            });
        }
        let field = |i: usize| fields.get(i).cloned().flatten();
        let amount = |i: usize| field(i)?.parse::<u128>().ok();
        let address = |i: usize| field(i)?.parse::<Address>().ok();
        let mut state = ChannelState::opened(amount(0)?);
        state.accepted_cumulative = amount(1)?;
        state.spent = amount(2)?;
        state.settled = amount(3)?;
        state.close_requested = field(4)? == "1";
        state.finalized = field(5)? == "1";
        state.held = amount(9)?;
        state.closing_until = u64::try_from(amount(10)?).ok()?;
        let channel = Channel {
            state,
            payer: address(6)?,
            signer: address(7)?,
            voucher_signature: hex::decode(field(8)?).ok()?.into(),
            prior_amount: amount(11)?,
            prior_signature: hex::decode(field(12)?).ok()?.into(),
        };
        Some(Self {
            status,
            channel: Some(channel),
        })
    }

    /// The update's outcome, rebuilt from the status and the stored state.
    fn outcome(&self, update: &ChannelUpdate) -> Option<Result<(), AccountingError>> {
        let state = &self.channel.as_ref()?.state;
        let (amount, min_delta, cost) = match update {
            ChannelUpdate::Pay {
                voucher,
                min_delta,
                cost,
            } => (voucher.as_ref().map_or(0, |v| v.amount), *min_delta, *cost),
            ChannelUpdate::Hold { cost, .. } => (0, 0, *cost),
            ChannelUpdate::Close { amount, .. } => (*amount, 0, 0),
            _ => (0, 0, 0),
        };
        Some(match self.status.as_str() {
            "ok" => Ok(()),
            "closed" => Err(AccountingError::Closed),
            "close_requested" => Err(AccountingError::CloseRequested),
            "signer_mismatch" => Err(AccountingError::SignerMismatch),
            "below_accepted" => Err(AccountingError::BelowAccepted {
                amount,
                accepted: state.accepted_cumulative,
            }),
            "below_min_delta" => Err(AccountingError::BelowMinDelta {
                amount,
                least: state.accepted_cumulative.saturating_add(min_delta.max(1)),
            }),
            "above_deposit" => Err(AccountingError::AboveDeposit {
                amount,
                deposit: state.deposit,
            }),
            "close_below" => Err(AccountingError::CloseBelowConsumed {
                amount,
                least: state.consumed().max(state.settled),
            }),
            "insufficient" => Err(AccountingError::Insufficient {
                cost,
                available: state.available(),
            }),
            _ => return None,
        })
    }
}

impl ChannelStore for RedisChannelStore {
    fn insert(
        &self,
        id: B256,
        channel: Channel,
    ) -> impl Future<Output = Result<Channel, StoreError>> + Send {
        let s = channel.state;
        let args = [
            padded(s.deposit),
            padded(s.accepted_cumulative),
            padded(s.spent),
            padded(s.settled),
            flag(s.close_requested),
            flag(s.finalized),
            address_text(channel.payer),
            address_text(channel.signer),
            hex::encode(&channel.voucher_signature),
            padded(s.held),
            padded(u128::from(s.closing_until)),
            padded(channel.prior_amount),
            hex::encode(&channel.prior_signature),
        ];
        async move {
            self.run(&id, "insert", &args)
                .await?
                .channel
                .ok_or_else(unexpected)
        }
    }

    /// A deposit update that lowers nothing reads the channel.
    async fn get(&self, id: B256) -> Result<Option<Channel>, StoreError> {
        let reply = self.run(&id, "deposit", &[padded(0)]).await?;
        Ok(reply.channel)
    }

    fn update(
        &self,
        id: B256,
        update: ChannelUpdate,
    ) -> impl Future<Output = Result<Option<Applied>, StoreError>> + Send {
        let (op, args): (&str, Vec<String>) = match &update {
            ChannelUpdate::Pay {
                voucher,
                min_delta,
                cost,
            } => (
                "pay",
                vec![
                    flag(voucher.is_some()),
                    padded(voucher.as_ref().map_or(0, |v| v.amount)),
                    voucher
                        .as_ref()
                        .map(|v| hex::encode(&v.signature))
                        .unwrap_or_default(),
                    padded((*min_delta).max(1)),
                    padded(*cost),
                    voucher
                        .as_ref()
                        .map(|v| address_text(v.signer))
                        .unwrap_or_default(),
                ],
            ),
            ChannelUpdate::Hold {
                cost,
                reported,
                hold,
            } => (
                "hold",
                vec![padded(*cost), padded(*reported), padded(*hold)],
            ),
            ChannelUpdate::Release { amount, held } => {
                ("release", vec![padded(*amount), padded(*held)])
            }
            ChannelUpdate::Close { amount, until } => {
                ("close", vec![padded(*amount), padded(u128::from(*until))])
            }
            ChannelUpdate::Deposit(deposit) => ("deposit", vec![padded(*deposit)]),
            ChannelUpdate::Settled(settled) => ("settled", vec![padded(*settled)]),
            ChannelUpdate::CloseRequested => ("close_requested", Vec::new()),
            ChannelUpdate::Finalized { settled } => ("finalized", vec![padded(*settled)]),
        };
        async move {
            let reply = self.run(&id, op, &args).await?;
            if reply.status == "missing" {
                return Ok(None);
            }
            let outcome = reply.outcome(&update).ok_or_else(unexpected)?;
            let channel = reply.channel.ok_or_else(unexpected)?;
            Ok(Some(Applied { channel, outcome }))
        }
    }

    /// Starts this store's listener at the first watch; the watch also
    /// wakes every [`watch_fallback`](Self::watch_fallback), in case a
    /// message was lost while the listener reconnected.
    async fn watch(&self, id: B256) -> Result<ChannelWatch, StoreError> {
        let watch = self.notifier.watch(id, Some(self.fallback));
        let mut subscribed = self
            .listening
            .get_or_init(|| {
                let (state, subscribed) = tokio::sync::watch::channel(false);
                tokio::spawn(listen(
                    self.redis.client(),
                    self.updates_key(),
                    self.notifier.downgrade(),
                    state,
                ));
                subscribed
            })
            .clone();
        // A watch taken before the subscription could miss a message: wait
        // for it (the fallback covers a listener that cannot subscribe).
        let _ = tokio::time::timeout(self.redis.timeout(), subscribed.wait_for(|s| *s)).await;
        Ok(watch)
    }

    /// Shared by the instances, and kept across restarts as far as the
    /// Redis persists (see [`RedisStore`]).
    fn is_durable(&self) -> bool {
        true
    }

    fn open_channels(&self) -> impl Future<Output = Result<Vec<B256>, StoreError>> + Send {
        let mut command = redis::cmd("SMEMBERS");
        command.arg(self.open_key());
        async move {
            let Value::Array(items) = self.redis.run(&command).await? else {
                return Err(unexpected());
            };
            Ok(items
                .into_iter()
                .filter_map(|item| match item {
                    Value::BulkString(bytes) => String::from_utf8(bytes).ok()?.parse().ok(),
                    _ => None,
                })
                .collect())
        }
    }
}
