//! What issuing a challenge reuses across requests: each method's offer
//! for a price (its encoded `request` and the HMAC state after the slots
//! the offer fixes), encoded once per price.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use super::price::Price;
use crate::binding::OfferSigner;
use crate::protocol::Base64Json;

/// The most prices whose encoded requests are kept.
const REQUEST_CACHE_LIMIT: usize = 1024;

/// One method's offer for one price: its encoded `request`, and the signer
/// of the challenges that carry it (the HMAC state after the slots the
/// offer fixes).
pub(crate) struct EncodedOffer {
    pub(crate) request: Base64Json,
    pub(crate) signer: OfferSigner,
}

/// Every method's offer (`None` where a method cannot serve the price).
pub(crate) type EncodedOffers = Arc<[Option<EncodedOffer>]>;

/// Every method's offer per price: a route's price is encoded once, not
/// per request. Bounded: past the limit, new prices are encoded each time
/// but not kept (run-time prices can be unbounded).
pub(crate) struct RequestCache {
    /// Tells this cache's entries apart in the threads' last-used slots.
    id: u64,
    entries: RwLock<HashMap<Price, EncodedOffers>>,
}

thread_local! {
    /// The price this thread looked up last, per cache: a 402 for the same
    /// price as the one before costs a comparison instead of hashing it.
    static LAST_USED: RefCell<Option<(u64, Price, EncodedOffers)>> = const { RefCell::new(None) };
}

impl Default for RequestCache {
    fn default() -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            entries: RwLock::default(),
        }
    }
}

impl RequestCache {
    pub(crate) fn get(&self, price: &Price) -> Option<EncodedOffers> {
        let last = LAST_USED.with_borrow(|last| match last {
            Some((id, last, offers)) if *id == self.id && last == price => Some(offers.clone()),
            _ => None,
        });
        if last.is_some() {
            return last;
        }
        let offers = self
            .entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(price)
            .cloned()?;
        self.remember(price, &offers);
        Some(offers)
    }

    pub(crate) fn insert(&self, price: &Price, requests: EncodedOffers) {
        self.remember(price, &requests);
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.len() < REQUEST_CACHE_LIMIT {
            entries.insert(price.clone(), requests);
        }
    }

    fn remember(&self, price: &Price, offers: &EncodedOffers) {
        LAST_USED.set(Some((self.id, price.clone(), offers.clone())));
    }
}
