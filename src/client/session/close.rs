//! Closing channels: one on request ([`TempoSessionProvider::close`]), one
//! a server forgot ([`TempoSessionProvider::close_retired`]), all those
//! paid from, retired ones included ([`TempoSessionProvider::close_all`]),
//! and all of them when the provider's last clone is dropped
//! ([`TempoSessionProvider::close_on_drop`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use alloy_primitives::B256;
use http::StatusCode;
use reqwest::Url;
use tokio::runtime::{Handle, RuntimeFlavor};

use super::{
    ChannelRecord, Inner, Paid, TempoSessionProvider, book_key, management, retired_key,
    session_request,
};
use crate::client::error::{ClientError, PayError};
use crate::protocol::Receipt;

impl TempoSessionProvider {
    /// Closes the channel paying `url`'s server: asks for a challenge
    /// there, then sends the last voucher as a `close`; the receipt names
    /// the close transaction. The channel is forgotten.
    ///
    /// # Errors
    ///
    /// [`ClientError`]: no session challenge at `url`, no channel with its
    /// server, or the server refused the close.
    pub async fn close(&self, url: impl AsRef<str>) -> Result<Receipt, ClientError> {
        self.close_at(url.as_ref(), None).await
    }

    /// Closes `channel_id`, a channel `url`'s server once forgot (it
    /// answered `410`: see [`retired_channels`](Self::retired_channels)),
    /// as [`close`](Self::close) does: the channel is kept under that
    /// server's terms (realm, chain, escrow, payee, token), so its close is
    /// sent only to a server whose challenge names the same terms. Its
    /// deposit is otherwise still the payer's to take back through the
    /// escrow alone (`requestClose`, then `withdraw`).
    ///
    /// # Errors
    ///
    /// [`ClientError`]: no session challenge at `url`, no such retired
    /// channel with its server, or the server refused the close (the
    /// channel then stays in the book).
    pub async fn close_retired(
        &self,
        url: impl AsRef<str>,
        channel_id: B256,
    ) -> Result<Receipt, ClientError> {
        self.close_at(url.as_ref(), Some(channel_id)).await
    }

    /// The channels servers forgot (a `410`) that are still in the book:
    /// their deposits are in the escrow until they are closed
    /// ([`close_retired`](Self::close_retired), or
    /// [`close_all`](Self::close_all) for those paid from in this process).
    ///
    /// # Errors
    ///
    /// [`PayError::Failed`] when the book cannot be read.
    pub fn retired_channels(&self) -> Result<Vec<ChannelRecord>, PayError> {
        let mut retired: Vec<ChannelRecord> = self
            .inner
            .book
            .records()
            .map_err(PayError::failed)?
            .into_iter()
            .filter(|(key, record)| *key == retired_key(key_of(key), record.channel_id))
            .map(|(_, record)| record)
            .collect();
        retired.sort_by_key(|record| record.channel_id);
        Ok(retired)
    }

    /// Closes the channel kept under `url`'s server key, or under its
    /// retired key for `retired`.
    async fn close_at(&self, url: &str, retired: Option<B256>) -> Result<Receipt, ClientError> {
        let url = Url::parse(url).map_err(ClientError::http)?;
        let _paying = self.inner.paying.lock().await;
        let challenge = management::fresh_challenge(&self.inner.http, &url).await?;
        let request = session_request(&challenge).map_err(ClientError::PaymentFailed)?;
        let key = book_key(&challenge, &request);
        let key = match retired {
            Some(id) => retired_key(&key, id),
            None => key,
        };
        let record = self
            .inner
            .book
            .get(&key)
            .map_err(|e| ClientError::PaymentFailed(PayError::failed(e)))?
            .ok_or_else(|| {
                ClientError::PaymentFailed(PayError::invalid(if retired.is_some() {
                    "no such retired channel with this server"
                } else {
                    "no channel is open with this server"
                }))
            })?;
        // What was spent, when a receipt said so: vouched and unspent is
        // not owed (the server accepts any close covering what it served
        // and settled). If it settled more already, the highest voucher.
        // Never above that voucher, whatever a receipt claimed: every
        // voucher was within the caps and the policy, a receipt is only
        // the server's word.
        let amount = if record.spent > 0 {
            record.spent.min(record.cumulative)
        } else {
            record.cumulative
        };
        let payload = self.voucher_payload("close", &record, amount);
        let receipt = match management::send(&self.inner.http, &url, &challenge, payload).await {
            Err(ClientError::Rejected { status, .. })
                if status == StatusCode::PAYMENT_REQUIRED && amount < record.cumulative =>
            {
                let payload = self.voucher_payload("close", &record, record.cumulative);
                management::send(&self.inner.http, &url, &challenge, payload).await?
            }
            other => other?,
        };
        self.inner
            .book
            .remove(&key)
            .map_err(|e| ClientError::PaymentFailed(PayError::failed(e)))?;
        self.paid().remove(&record.channel_id);
        Ok(receipt)
    }

    /// Closes every channel this provider has paid a URL from (through
    /// [`send_with_payment`](crate::client::PaymentExt::send_with_payment),
    /// which names the URL, or a stream's vouchers) and that is still in
    /// the book, those their server forgot (retired) included, one after
    /// the other: each channel's id with the receipt of its close or why
    /// it failed (the channel then stays in the book).
    pub async fn close_all(&self) -> Vec<(B256, Result<Receipt, ClientError>)> {
        let mut results = Vec::new();
        for (id, url, retired) in self.paid_urls() {
            let retired = retired.then_some(id);
            results.push((id, self.close_at(url.as_str(), retired).await));
        }
        results
    }

    /// The URL each channel still in the book was last paid at, and
    /// whether it is kept as retired, in the order of their ids.
    fn paid_urls(&self) -> Vec<(B256, Url, bool)> {
        let paid: Vec<(B256, String, Url)> = self
            .paid()
            .iter()
            .filter_map(|(id, paid)| Some((*id, paid.key.clone(), paid.url.clone()?)))
            .collect();
        let kept = |key: &str, id: B256| matches!(self.inner.book.get(key), Ok(Some(record)) if record.channel_id == id);
        let mut urls: Vec<(B256, Url, bool)> = paid
            .into_iter()
            .filter_map(|(id, key, url)| {
                // Under its server's key, else retired (the server answered
                // 410 and another channel may be open there since).
                if kept(&key, id) {
                    Some((id, url, false))
                } else if kept(&retired_key(&key, id), id) {
                    Some((id, url, true))
                } else {
                    None
                }
            })
            .collect();
        urls.sort_by_key(|(id, ..)| *id);
        urls
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let Some(timeout) = self.close_on_drop else {
            return;
        };
        let paid = std::mem::take(
            self.challenges
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner),
        );
        if paid.values().all(|p| p.url.is_none()) {
            return;
        }
        let provider_with = |http: reqwest::Client| TempoSessionProvider {
            inner: Arc::new(Inner {
                signer: self.signer.clone(),
                deposit: self.deposit,
                max_deposit: self.max_deposit,
                ahead: self.ahead,
                book: Arc::clone(&self.book),
                http,
                max_fee_per_gas: self.max_fee_per_gas,
                max_priority_fee_per_gas: self.max_priority_fee_per_gas,
                paying: tokio::sync::Mutex::new(()),
                challenges: Mutex::new(paid.clone()),
                close_on_drop: None,
            }),
        };
        let closes = move |provider: TempoSessionProvider| async move {
            match tokio::time::timeout(timeout, provider.close_all()).await {
                Ok(results) => results,
                Err(_) => provider
                    .paid_urls()
                    .into_iter()
                    .map(|(id, ..)| (id, Err(timed_out(timeout))))
                    .collect(),
            }
        };
        let results = match Handle::try_current() {
            // Other workers drive this client's connections while this one
            // waits for a thread that runs the closes on the same runtime
            // (`block_in_place` would need tokio's `rt-multi-thread`
            // feature: the application picks the runtime, not us).
            Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
                let provider = provider_with(self.http.clone());
                std::thread::scope(|scope| {
                    scope
                        .spawn(|| handle.block_on(closes(provider)))
                        .join()
                        .ok()
                })
                .unwrap_or_else(|| failed(&paid))
            }
            // A current-thread runtime would wait on itself; without one
            // there is none to run on: a thread of its own, with a client
            // of its own (a client's pooled connections belong to the
            // runtime that made them).
            _ => {
                let provider = provider_with(crate::tls::default_client());
                let run = move || {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map(|runtime| runtime.block_on(closes(provider)))
                };
                match std::thread::spawn(run).join() {
                    Ok(Ok(results)) => results,
                    _ => failed(&paid),
                }
            }
        };
        report(&results);
    }
}

/// Every channel of `paid`, failed: the closes could not run.
fn failed(paid: &HashMap<B256, Paid>) -> Vec<(B256, Result<Receipt, ClientError>)> {
    paid.keys()
        .map(|id| {
            let why = PayError::failed("no runtime could run the close");
            (*id, Err(ClientError::PaymentFailed(why)))
        })
        .collect()
}

/// The server key a retired key was made from (`retired_key`'s inverse).
fn key_of(retired: &str) -> &str {
    retired.split("|retired|").next().unwrap_or(retired)
}

fn timed_out(timeout: Duration) -> ClientError {
    ClientError::PaymentFailed(PayError::failed(format!(
        "the close was not answered within {timeout:?}"
    )))
}

/// Logs the closes made on drop that failed (with the `tracing` feature).
fn report(results: &[(B256, Result<Receipt, ClientError>)]) {
    #[cfg(feature = "tracing")]
    for (id, result) in results {
        if let Err(error) = result {
            tracing::warn!(
                target: "tower_mpp::client",
                channel_id = %id,
                %error,
                "a channel could not be closed on drop"
            );
        }
    }
    #[cfg(not(feature = "tracing"))]
    let _ = results;
}
