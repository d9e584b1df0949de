//! [`SessionEvents`]: a metered stream's Server-Sent Events, read as they
//! come, with each `payment-need-voucher` answered by a voucher.

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use alloy_primitives::B256;
use bytes::Bytes;
use futures_core::Stream;
use reqwest::Url;
use serde_json::Value;

use super::{Paid, TempoSessionProvider, management};
use crate::client::error::{ClientError, PayError, PolicyViolation};
use crate::client::fetch::PaidWith;
use crate::client::policy::{Limited, SpendingPolicy};
use crate::protocol::{Receipt, parse_base_units};

/// One event of a metered stream.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionEvent {
    /// An item of the response (`event: message`), its data.
    Message(String),
    /// The server asked for more (`payment-need-voucher`) and the provider
    /// paid: a voucher up to `cumulative`, after a top-up of `top_up` when
    /// the deposit was short.
    Paid {
        /// The channel.
        channel_id: B256,
        /// The voucher sent, in base units in all.
        cumulative: u128,
        /// What was added to the deposit first, if anything.
        top_up: Option<u128>,
    },
    /// The final receipt (`payment-receipt`): what the stream cost.
    Receipt(Receipt),
}

type Events = Pin<Box<dyn Stream<Item = Result<SessionEvent, ClientError>> + Send>>;

/// The events of a metered stream (see [`TempoSessionProvider::events`],
/// and [`Limited::events`] for one whose vouchers a [`SpendingPolicy`]
/// limits); the final receipt stays readable with
/// [`receipt`](Self::receipt).
pub struct SessionEvents {
    events: Events,
    receipt: Arc<Mutex<Option<Receipt>>>,
}

struct Reader {
    provider: TempoSessionProvider,
    limit: Option<Limit>,
    /// The channel the stream's request paid with: the only one its
    /// need-vouchers are answered for.
    channel: Option<B256>,
    url: Url,
    body: reqwest::Response,
    buffer: String,
    receipt: Arc<Mutex<Option<Receipt>>>,
    done: bool,
}

impl SessionEvents {
    pub(super) fn new(
        provider: TempoSessionProvider,
        policy: Option<SpendingPolicy>,
        response: reqwest::Response,
    ) -> Self {
        let receipt = Arc::new(Mutex::new(None));
        let channel = response
            .extensions()
            .get::<PaidWith>()
            .filter(|paid| {
                paid.0.challenge.method == "tempo" && paid.0.challenge.intent == "session"
            })
            .and_then(|paid| paid.0.payload.get("channelId")?.as_str()?.parse().ok());
        let reader = Reader {
            provider,
            channel,
            limit: policy.map(|policy| Limit {
                policy,
                in_request: None,
            }),
            url: response.url().clone(),
            body: response,
            buffer: String::new(),
            receipt: receipt.clone(),
            done: false,
        };
        let events = futures_util::stream::unfold(Box::new(reader), |mut reader| async move {
            let event = reader.next_event().await?;
            Some((event, reader))
        });
        Self {
            events: Box::pin(events),
            receipt,
        }
    }

    /// The stream's final receipt, once it was read.
    pub fn receipt(&self) -> Option<Receipt> {
        self.receipt
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl fmt::Debug for SessionEvents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionEvents")
            .field("receipt", &self.receipt())
            .finish_non_exhaustive()
    }
}

impl Stream for SessionEvents {
    type Item = Result<SessionEvent, ClientError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.events.as_mut().poll_next(cx)
    }
}

impl Reader {
    async fn next_event(&mut self) -> Option<Result<SessionEvent, ClientError>> {
        if self.done {
            return None;
        }
        loop {
            let Some((name, data)) = self.next_block().await else {
                self.done = true;
                return None;
            };
            let event = match name.as_str() {
                "message" => Ok(SessionEvent::Message(data)),
                "payment-need-voucher" => match self.pay(&data).await {
                    // Paid already: the server announced the need again.
                    Ok(None) => continue,
                    Ok(Some(paid)) => Ok(paid),
                    Err(error) => Err(error),
                },
                "payment-receipt" => {
                    match Receipt::parse(&crate::protocol::base64url::encode(&data)) {
                        Ok(receipt) => {
                            let field =
                                |name: &str| receipt.extra.get(name).and_then(Value::as_str);
                            if let (Some(id), Some(spent)) = (
                                field("channelId").and_then(|t| t.parse().ok()),
                                field("spent").and_then(|t| t.parse().ok()),
                            ) {
                                self.provider.note_spent(id, spent);
                            }
                            *self.receipt.lock().unwrap_or_else(PoisonError::into_inner) =
                                Some(receipt.clone());
                            Ok(SessionEvent::Receipt(receipt))
                        }
                        Err(e) => Err(ClientError::PaymentFailed(PayError::failed(format!(
                            "the stream's receipt is unreadable: {e}"
                        )))),
                    }
                }
                // Events of other names (keep-alives, the server's own)
                // are not the client's business.
                _ => continue,
            };
            if event.is_err() {
                self.done = true;
            }
            return Some(event);
        }
    }

    /// Answers a `payment-need-voucher` event.
    async fn pay(&mut self, data: &str) -> Result<Option<SessionEvent>, ClientError> {
        let need: Value = serde_json::from_str(data).map_err(|e| {
            ClientError::PaymentFailed(PayError::invalid(format!(
                "a malformed need for a voucher: {e}"
            )))
        })?;
        let field = |name: &str| need.get(name).and_then(Value::as_str).map(str::to_owned);
        let amount = |name: &str| field(name).and_then(|t| t.parse::<u128>().ok());
        let (Some(id), Some(required), Some(deposit)) = (
            field("channelId").and_then(|t| t.parse::<B256>().ok()),
            amount("requiredCumulative"),
            amount("deposit"),
        ) else {
            return Err(ClientError::PaymentFailed(PayError::invalid(
                "a need for a voucher without channelId, requiredCumulative or deposit",
            )));
        };
        if self.channel != Some(id) {
            return Err(ClientError::ForeignChannel {
                asked: id.to_string(),
                paid_with: self.channel.map(|c| c.to_string()),
            });
        }
        let paid = self
            .provider
            .pay_more(&self.url, id, required, deposit, self.limit.as_mut())
            .await?;
        Ok(paid.map(|top_up| SessionEvent::Paid {
            channel_id: id,
            cumulative: required,
            top_up,
        }))
    }

    /// The next event's name and data, `None` at the end of the body.
    async fn next_block(&mut self) -> Option<(String, String)> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut name = "message".to_owned();
                let mut data: Vec<&str> = Vec::new();
                for line in block.lines() {
                    if let Some(value) = line.strip_prefix("event:") {
                        value.trim_start().clone_into(&mut name);
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data.push(value.strip_prefix(' ').unwrap_or(value));
                    }
                }
                if data.is_empty() {
                    continue;
                }
                return Some((name, data.join("\n")));
            }
            let chunk: Bytes = self.body.chunk().await.ok()??;
            self.buffer
                .push_str(&String::from_utf8_lossy(&chunk).replace("\r\n", "\n"));
        }
    }
}

/// A stream's vouchers under a spending policy: what its request has cost
/// so far (set at its first voucher, from the unit price its request paid).
struct Limit {
    policy: SpendingPolicy,
    in_request: Option<u128>,
}

impl Limit {
    /// Counts `amount` more of `paid`'s currency against the policy.
    fn admit(&mut self, paid: &Paid, amount: u128) -> Result<(), PolicyViolation> {
        if amount == 0 {
            return Ok(());
        }
        let in_request = *self.in_request.get_or_insert_with(|| {
            paid.challenge
                .request
                .object()
                .get("amount")
                .and_then(Value::as_str)
                .and_then(|t| parse_base_units(t).ok())
                .unwrap_or(0)
        });
        // Counted from here on, whatever the server answers: a voucher
        // signed can be presented.
        let _counted = self
            .policy
            .reserve_more(&paid.challenge, amount, in_request)?;
        self.in_request = Some(in_request.saturating_add(amount));
        Ok(())
    }
}

impl Limited<TempoSessionProvider> {
    /// Reads a paid response as a metered stream, like
    /// [`TempoSessionProvider::events`], paying each voucher the stream
    /// asks for only within the policy: what each voucher adds counts
    /// toward the total, and all a stream's vouchers, with the price its
    /// request paid, toward the per-request limit. A voucher the policy
    /// refuses is not signed: the stream ends with
    /// [`ClientError::PolicyRefused`].
    pub fn events(&self, response: reqwest::Response) -> SessionEvents {
        SessionEvents::new(
            self.get_ref().clone(),
            Some(self.policy().clone()),
            response,
        )
    }
}

impl TempoSessionProvider {
    /// Signs the next voucher of the channel `id` up to `required`, topping
    /// it up first when its deposit is short: what a stream's
    /// `payment-need-voucher` asks for. `None` when that was paid already
    /// (a need announced again after a top-up), else the amount of the
    /// top-up, if any. Under a `limit`, what the voucher adds is checked
    /// before anything is signed; a voucher ahead of the need
    /// ([`voucher_ahead`](Self::voucher_ahead)) shrinks to the
    /// need when the policy allows no more.
    async fn pay_more(
        &self,
        url: &Url,
        id: B256,
        required: u128,
        deposit: u128,
        mut limit: Option<&mut Limit>,
    ) -> Result<Option<Option<u128>>, ClientError> {
        let _paying = self.inner.paying.lock().await;
        let known = self.paid().get(&id).cloned();
        let Some(mut paid) = known else {
            return Err(ClientError::ForeignChannel {
                asked: id.to_string(),
                paid_with: None,
            });
        };
        // Only at the origin the channel paid: a stream redirected
        // elsewhere is not paid from it, and never moves its URL.
        if let Some(paid_url) = &paid.url
            && paid_url.origin() != url.origin()
        {
            return Err(ClientError::CrossOriginRedirect {
                requested: paid_url.to_string(),
                answered: url.to_string(),
            });
        }
        // Where the stream was paid from now on (`close_all` closes there).
        paid.url = Some(url.clone());
        if let Some(entry) = self.paid().get_mut(&id) {
            entry.url = Some(url.clone());
        }
        let mut record = self.record(&paid.key)?.ok_or_else(|| {
            ClientError::PaymentFailed(PayError::invalid("the channel is not in the book"))
        })?;
        if let Some(limit) = limit.as_deref_mut() {
            limit
                .admit(&paid, required.saturating_sub(record.cumulative))
                .map_err(ClientError::PolicyRefused)?;
        }
        // The deposit is what the book says: the event's word does not
        // raise it (a server could claim any).
        let _ = deposit;
        let mut topped = None;
        if required > record.deposit {
            let policy = limit.as_deref().map(|limit| &limit.policy);
            let added = self
                .top_up(
                    url,
                    &paid.challenge,
                    &paid.key,
                    &mut record,
                    required,
                    policy,
                )
                .await?;
            topped = Some(added);
        }
        if required <= record.cumulative {
            return Ok(topped.map(Some));
        }
        let mut amount = required
            .saturating_add(self.inner.ahead)
            .min(record.deposit)
            .max(required);
        if let Some(limit) = limit
            && limit.admit(&paid, amount - required).is_err()
        {
            amount = required;
        }
        self.record_voucher(&paid.key, &mut record, amount)
            .map_err(ClientError::PaymentFailed)?;
        let payload = self.voucher_payload("voucher", &record, amount);
        management::send(&self.inner.http, url, &paid.challenge, payload).await?;
        Ok(Some(topped))
    }

    /// Notes what a receipt of channel `id` says was spent.
    pub(crate) fn note_spent(&self, id: B256, spent: u128) {
        let known = self.paid().get(&id).map(|paid| paid.key.clone());
        if let Some(key) = known
            && let Ok(Some(mut record)) = self.inner.book.get(&key)
            && spent > record.spent
        {
            // At most the highest voucher: a receipt is the server's word.
            record.spent = spent.min(record.cumulative);
            let _ = self.inner.book.put(&key, &record);
        }
    }
}
