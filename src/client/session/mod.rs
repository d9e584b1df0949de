//! [`TempoSessionProvider`]: pays Tempo `session` challenges from a payment
//! channel it opens once per server, with cumulative vouchers.
//!
//! - The first `402` offering `intent="session"` opens a channel: one
//!   Tempo transaction (type `0x76`: `approve` of the escrow, then its
//!   `open`) for the server to broadcast, with a first voucher for the
//!   request. The deposit is [`deposit`](TempoSessionProvider::deposit)
//!   or else the server's `suggestedDeposit`, at least the request's price,
//!   and never above [`max_deposit`](TempoSessionProvider::max_deposit).
//! - Later requests to the same server (realm, escrow, chain, payee, token)
//!   pay with a voucher one price higher: no transaction, no fee.
//! - When the deposit does not cover the next voucher, the provider first
//!   tops the channel up (a `topUp` sent to the paid URL), then pays.
//! - [`close`](TempoSessionProvider::close) asks the server to close the
//!   channel with the last voucher: the escrow pays the server what was
//!   vouched and returns the rest of the deposit.
//! - A metered stream (`text/event-stream`) is read with
//!   [`events`](TempoSessionProvider::events), which answers each
//!   `payment-need-voucher` with a voucher (and a top-up when needed).
//!
//! Channels are kept in a [`ChannelBook`]: in memory by default, or in a
//! file ([`FileBook`]) so a process that restarts goes on with its
//! channels. A voucher is recorded before it is sent. Channels stay open
//! until [`close`](TempoSessionProvider::close) or
//! [`close_all`](TempoSessionProvider::close_all) is called, or, with
//! [`close_on_drop`](TempoSessionProvider::close_on_drop),
//! until the provider's last clone is dropped; a kept book goes on
//! later. The payer can also close through the escrow alone
//! (`requestClose`, then `withdraw` after 15 minutes).

mod book;
mod channel_ops;
mod close;
mod events;
mod management;

pub use book::{ChannelBook, ChannelRecord, FileBook, MemoryBook};

pub use events::{SessionEvent, SessionEvents};

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy_primitives::{Address, B256};
use alloy_signer_local::PrivateKeySigner;
use reqwest::Url;
use serde_json::Value;

use super::error::PayError;
use super::policy::SpendingPolicy;
use super::provider::PaymentProvider;
use http::StatusCode;

use crate::protocol::{Challenge, Credential, ProblemDetails, Receipt};
use crate::tempo::session::SessionRequest;

/// Gas for an open (approve ~530k, open ~1.32M) or a top-up.
const CHANNEL_GAS: u64 = 3_000_000;

/// The most one channel holds unless
/// [`max_deposit`](TempoSessionProvider::max_deposit) says
/// otherwise: 10 units of a 6-decimal stablecoin (10 USD in `PathUSD`).
pub const DEFAULT_MAX_DEPOSIT: u128 = 10_000_000;

/// Pays Tempo `session` challenges from payment channels; cheap to clone
/// (clones share channels).
///
/// - The first `402` offering `intent="session"` opens a channel: one
///   Tempo transaction (type `0x76`: `approve` of the escrow, then its
///   `open`) for the server to broadcast, with a first voucher for the
///   request. The deposit is [`deposit`](TempoSessionProvider::deposit)
///   or else the server's `suggestedDeposit`, at least the request's price,
///   and never above [`max_deposit`](TempoSessionProvider::max_deposit).
/// - Later requests to the same server (realm, escrow, chain, payee, token)
///   pay with a voucher one price higher: no transaction, no fee.
/// - When the deposit does not cover the next voucher, the provider first
///   tops the channel up (a `topUp` sent to the paid URL), then pays.
/// - [`close`](TempoSessionProvider::close) asks the server to close the
///   channel with the last voucher: the escrow pays the server what was
///   vouched and returns the rest of the deposit.
/// - A metered stream (`text/event-stream`) is read with
///   [`events`](TempoSessionProvider::events), which answers each
///   `payment-need-voucher` with a voucher (and a top-up when needed).
///
/// Channels are kept in a [`ChannelBook`]: in memory by default, or in a
/// file ([`FileBook`]) so a process that restarts goes on with its
/// channels. A voucher is recorded before it is sent. Channels stay open
/// until [`close`](TempoSessionProvider::close) or
/// [`close_all`](TempoSessionProvider::close_all) is called, or, with
/// [`close_on_drop`](TempoSessionProvider::close_on_drop),
/// until the provider's last clone is dropped; a kept book goes on
/// later. The payer can also close through the escrow alone
/// (`requestClose`, then `withdraw` after 15 minutes).
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use tower_mpp::client::{PaymentExt, PrivateKeySigner, TempoSessionProvider};
///
/// let signer: PrivateKeySigner = std::env::var("PAYER_KEY")?.parse()?;
/// let provider = TempoSessionProvider::new(signer)
///     .deposit(5_000_000)
///     .max_deposit(20_000_000);
/// let client = reqwest::Client::new();
/// for _ in 0..3 {
///     // The first request opens a channel; the next ones send vouchers.
///     client.get("https://api.example.com/joke").send_with_payment(&provider).await?;
/// }
/// let receipt = provider.close("https://api.example.com/joke").await?;
/// println!("closed: {:?}", receipt.extra.get("txHash"));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TempoSessionProvider {
    inner: Arc<Inner>,
}

struct Inner {
    signer: PrivateKeySigner,
    deposit: Option<u128>,
    max_deposit: Option<u128>,
    ahead: u128,
    book: Arc<dyn ChannelBook>,
    http: reqwest::Client,
    max_fee_per_gas: u128,
    max_priority_fee_per_gas: u128,
    /// One payment at a time, so vouchers rise in order.
    paying: tokio::sync::Mutex<()>,
    /// What each channel was last paid for, for the vouchers a stream asks
    /// for and the closes (by channel id).
    challenges: Mutex<HashMap<B256, Paid>>,
    /// Close the channels paid from when the last clone is dropped, within
    /// this long.
    close_on_drop: Option<Duration>,
}

/// The last payment of a channel: its book key, the challenge it answered,
/// and the URL paid, when the client said (see
/// [`PaymentProvider::pay_for`]).
#[derive(Clone)]
struct Paid {
    key: String,
    challenge: Challenge,
    url: Option<Url>,
}

impl TempoSessionProvider {
    /// Pays as `signer`, keeping channels in memory.
    pub fn new(signer: PrivateKeySigner) -> Self {
        Self {
            inner: Arc::new(Inner {
                signer,
                deposit: None,
                max_deposit: None,
                ahead: 0,
                book: Arc::new(MemoryBook::new()),
                http: crate::tls::default_client(),
                max_fee_per_gas: 41_000_000_000,
                max_priority_fee_per_gas: 1_000_000_000,
                paying: tokio::sync::Mutex::new(()),
                challenges: Mutex::new(HashMap::new()),
                close_on_drop: None,
            }),
        }
    }

    /// What each channel was last paid for, locked (the map holds whole
    /// entries: a panic elsewhere cannot leave one half-written).
    fn paid(&self) -> std::sync::MutexGuard<'_, HashMap<B256, Paid>> {
        self.inner
            .challenges
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn edit(mut self, change: impl FnOnce(&mut Inner)) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => change(inner),
            None => unreachable!("configured before it is cloned"),
        }
        self
    }

    /// The deposit of a new channel, in base units (default: the server's
    /// `suggestedDeposit`); also what a top-up adds at least.
    #[must_use]
    pub fn deposit(self, base_units: u128) -> Self {
        self.edit(|inner| inner.deposit = Some(base_units))
    }

    /// The former name of [`deposit`](Self::deposit).
    #[deprecated(note = "renamed `deposit`")]
    #[must_use]
    pub fn with_deposit(self, base_units: u128) -> Self {
        self.deposit(base_units)
    }

    /// The most one channel may hold, top-ups included (default
    /// [`DEFAULT_MAX_DEPOSIT`]): above it the provider refuses to pay
    /// ([`PolicyViolation::Deposit`](crate::client::PolicyViolation::Deposit)).
    /// A server's `suggestedDeposit` is taken up to it only.
    #[must_use]
    pub fn max_deposit(self, base_units: u128) -> Self {
        self.edit(|inner| inner.max_deposit = Some(base_units))
    }

    /// The former name of [`max_deposit`](Self::max_deposit).
    #[deprecated(note = "renamed `max_deposit`")]
    #[must_use]
    pub fn with_max_deposit(self, base_units: u128) -> Self {
        self.max_deposit(base_units)
    }

    /// When a stream asks for a voucher, vouch this many base units more
    /// than it needs (within the deposit), so it asks less often (default
    /// 0: a voucher per need). What is vouched and not spent is not paid:
    /// the close pays what the stream's receipt says was spent.
    #[must_use]
    pub fn voucher_ahead(self, base_units: u128) -> Self {
        self.edit(|inner| inner.ahead = base_units)
    }

    /// The former name of [`voucher_ahead`](Self::voucher_ahead).
    #[deprecated(note = "renamed `voucher_ahead`")]
    #[must_use]
    pub fn with_voucher_ahead(self, base_units: u128) -> Self {
        self.voucher_ahead(base_units)
    }

    /// Keeps channels in `book` (a [`FileBook`] survives a restart).
    #[must_use]
    pub fn book(self, book: impl ChannelBook) -> Self {
        self.edit(|inner| inner.book = Arc::new(book))
    }

    /// The former name of [`book`](Self::book).
    #[deprecated(note = "renamed `book`")]
    #[must_use]
    pub fn with_book(self, book: impl ChannelBook) -> Self {
        self.book(book)
    }

    /// The HTTP client of top-ups, vouchers for streams, and closes.
    #[must_use]
    pub fn http_client(self, client: reqwest::Client) -> Self {
        self.edit(|inner| inner.http = client)
    }

    /// The former name of [`http_client`](Self::http_client).
    #[deprecated(note = "renamed `http_client`")]
    #[must_use]
    pub fn with_http_client(self, client: reqwest::Client) -> Self {
        self.http_client(client)
    }

    /// The fee caps of open and top-up transactions (attodollars per gas;
    /// defaults 41 gwei and 1 gwei).
    #[must_use]
    pub fn fees_per_gas(self, max_fee: u128, priority_fee: u128) -> Self {
        self.edit(|inner| {
            inner.max_fee_per_gas = max_fee;
            inner.max_priority_fee_per_gas = priority_fee;
        })
    }

    /// The former name of [`fees_per_gas`](Self::fees_per_gas).
    #[deprecated(note = "renamed `fees_per_gas`")]
    #[must_use]
    pub fn with_fees_per_gas(self, max_fee: u128, priority_fee: u128) -> Self {
        self.fees_per_gas(max_fee, priority_fee)
    }

    /// Closes every channel this provider paid a URL from (see
    /// [`close_all`](Self::close_all)) when its last clone is dropped,
    /// waiting at most `timeout` for the server's answers.
    ///
    /// The drop blocks until the closes are answered: in a multi-threaded
    /// Tokio runtime on a thread of its own that runs them on that runtime
    /// with this provider's HTTP client; anywhere else (a current-thread
    /// runtime, or none) on a thread with a runtime of its own and a
    /// default `reqwest::Client`. A close that fails leaves its channel in the book
    /// (a [`FileBook`] keeps it for the next process) and, with the
    /// `tracing` feature, logs a warning (target `tower_mpp::client`); call
    /// [`close_all`](Self::close_all) to see each result.
    #[must_use]
    pub fn close_on_drop(self, timeout: Duration) -> Self {
        self.edit(|inner| inner.close_on_drop = Some(timeout))
    }

    /// The former name of [`close_on_drop`](Self::close_on_drop).
    #[deprecated(note = "renamed `close_on_drop`")]
    #[must_use]
    pub fn with_close_on_drop(self, timeout: Duration) -> Self {
        self.close_on_drop(timeout)
    }

    /// The payer's address.
    pub fn address(&self) -> Address {
        self.inner.signer.address()
    }

    /// The channel this provider pays `challenge`'s server from, if any.
    ///
    /// # Errors
    ///
    /// [`PayError::InvalidChallenge`] for a challenge that is not a Tempo
    /// session's; [`PayError::Failed`] when the book cannot be read.
    pub fn channel(&self, challenge: &Challenge) -> Result<Option<ChannelRecord>, PayError> {
        let request = session_request(challenge)?;
        self.inner
            .book
            .get(&book_key(challenge, &request))
            .map_err(PayError::failed)
    }

    /// Reads a paid response as a metered stream: its events, answering
    /// each `payment-need-voucher` with a voucher posted to the response's
    /// URL (see [`SessionEvents`]). Only a need for the channel that paid
    /// the response (through [`send_with_payment`](crate::client::PaymentExt::send_with_payment)
    /// or the middleware), at the origin it paid, is answered: any other
    /// ends the stream with [`ClientError::ForeignChannel`](crate::client::ClientError::ForeignChannel)
    /// or [`ClientError::CrossOriginRedirect`](crate::client::ClientError::CrossOriginRedirect),
    /// nothing signed. Within the deposit caps only, where
    /// [`Limited::events`](crate::client::Limited::events) also holds the
    /// vouchers to a [`SpendingPolicy`](crate::client::SpendingPolicy).
    pub fn events(&self, response: reqwest::Response) -> SessionEvents {
        SessionEvents::new(self.clone(), None, response)
    }
}

impl PaymentProvider for TempoSessionProvider {
    fn supports(&self, method: &str, intent: &str) -> bool {
        method == "tempo" && intent == "session"
    }

    async fn pay(&self, challenge: &Challenge) -> Result<Credential, PayError> {
        self.pay_session(challenge, None, None).await
    }

    async fn pay_for(&self, challenge: &Challenge, url: &Url) -> Result<Credential, PayError> {
        self.pay_session(challenge, Some(url), None).await
    }

    /// Deposits (opens, top-ups) count against the policy's total.
    async fn pay_within(
        &self,
        challenge: &Challenge,
        url: Option<&Url>,
        policy: &SpendingPolicy,
    ) -> Result<Credential, PayError> {
        self.pay_session(challenge, url, Some(policy)).await
    }

    /// The channel is open with the server; its receipt says what was
    /// spent.
    fn accepted(&self, credential: &Credential, receipt: Option<&Receipt>) {
        let Ok(request) = session_request(&credential.challenge) else {
            return;
        };
        let key = book_key(&credential.challenge, &request);
        let spent = receipt
            .and_then(|r| r.extra.get("spent"))
            .and_then(Value::as_str)
            .and_then(|t| t.parse::<u128>().ok());
        if let Ok(Some(mut record)) = self.inner.book.get(&key) {
            // At most the highest voucher: a receipt is the server's word.
            let spent = spent
                .unwrap_or(record.spent)
                .max(record.spent)
                .min(record.cumulative);
            if !record.confirmed || spent != record.spent {
                record.confirmed = true;
                record.spent = spent;
                let _ = self.inner.book.put(&key, &record);
            }
        }
    }

    /// A `410`: the server has no such channel (never opened, or closed):
    /// the next payment opens a new one. The channel stays in the book
    /// under a key of its own (its server's key, then `|retired|` and its
    /// id): its deposit may still be in the escrow, to close or withdraw
    /// later.
    fn refused(&self, credential: &Credential, status: StatusCode, _: Option<&ProblemDetails>) {
        if status != StatusCode::GONE {
            return;
        }
        let Ok(request) = session_request(&credential.challenge) else {
            return;
        };
        let key = book_key(&credential.challenge, &request);
        let named = credential.payload.get("channelId").and_then(Value::as_str);
        if let Ok(Some(record)) = self.inner.book.get(&key)
            && named.and_then(|t| t.parse::<B256>().ok()) == Some(record.channel_id)
            && self
                .inner
                .book
                .put(&retired_key(&key, record.channel_id), &record)
                .is_ok()
        {
            let _ = self.inner.book.remove(&key);
        }
    }

    fn accepts(&self) -> Vec<(String, String)> {
        vec![("tempo".to_owned(), "session".to_owned())]
    }
}

impl fmt::Debug for TempoSessionProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TempoSessionProvider")
            .field("address", &self.address())
            .field("deposit", &self.inner.deposit)
            .field("max_deposit", &self.inner.max_deposit)
            .finish_non_exhaustive()
    }
}

fn session_request(challenge: &Challenge) -> Result<SessionRequest, PayError> {
    if challenge.method != "tempo" || challenge.intent != "session" {
        return Err(PayError::unsupported(challenge));
    }
    challenge
        .request
        .deserialize()
        .map_err(|e| PayError::invalid(format!("not a Tempo session request: {e}")))
}

/// Where a channel the server forgot (`410`) is kept: beside its server's
/// key, by its id.
fn retired_key(key: &str, channel_id: B256) -> String {
    format!("{key}|retired|{channel_id}")
}

/// The server and channel terms a channel is kept under.
fn book_key(challenge: &Challenge, request: &SessionRequest) -> String {
    format!(
        "{}|{}|{}|{}|{}",
        challenge.realm.to_ascii_lowercase(),
        request.method_details.chain_id.unwrap_or_default(),
        request.method_details.escrow_contract,
        request.recipient,
        request.currency,
    )
    .to_ascii_lowercase()
}
