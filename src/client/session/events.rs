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

use super::TempoSessionProvider;
use crate::client::error::{ClientError, PayError};
use crate::protocol::Receipt;

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

/// The events of a metered stream (see
/// [`TempoSessionProvider::events`]); the final receipt stays readable
/// with [`receipt`](Self::receipt).
pub struct SessionEvents {
    events: Events,
    receipt: Arc<Mutex<Option<Receipt>>>,
}

struct Reader {
    provider: TempoSessionProvider,
    url: Url,
    body: reqwest::Response,
    buffer: String,
    receipt: Arc<Mutex<Option<Receipt>>>,
    done: bool,
}

impl SessionEvents {
    pub(super) fn new(provider: TempoSessionProvider, response: reqwest::Response) -> Self {
        let receipt = Arc::new(Mutex::new(None));
        let reader = Reader {
            provider,
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
    async fn pay(&self, data: &str) -> Result<Option<SessionEvent>, ClientError> {
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
        let paid = self
            .provider
            .pay_more(&self.url, id, required, deposit)
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
