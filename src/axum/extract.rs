//! `Charge<P>` and `Payment`.

use std::fmt;
use std::marker::PhantomData;

use axum_core::body::Body;
use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;

use crate::layer::{BodyDigest, PaymentContext};
use crate::method::{PaymentRejection, Price, RejectionKind, StaticPrice};
use crate::protocol::Receipt;
use crate::stream::Metered;

fn context(parts: &Parts) -> Result<PaymentContext, PaymentRejection> {
    parts
        .extensions
        .get::<PaymentContext>()
        .cloned()
        .ok_or_else(|| {
            PaymentRejection::new(
                RejectionKind::Misconfigured,
                "This route asks for payment but PaymentLayer is not installed on it.",
            )
        })
}

fn source(context: &PaymentContext) -> Option<&str> {
    context.credential()?.source.as_deref()
}

fn digest(parts: &Parts) -> Option<String> {
    parts.extensions.get::<BodyDigest>().map(|d| d.0.clone())
}

/// A paid request at the price of `P`; the handler runs only once paid.
///
/// Who paid and how, to log or attribute usage: [`source`](Self::source)
/// and [`receipt`](Self::receipt).
pub struct Charge<P> {
    receipt: Receipt,
    source: Option<String>,
    price: PhantomData<fn() -> P>,
}

impl<P> Charge<P> {
    /// The receipt that will be attached to the response: the method, its
    /// reference (a transaction hash) and the method's fields.
    pub fn receipt(&self) -> &Receipt {
        &self.receipt
    }

    /// Who paid: the credential's `source` (a DID, e.g.
    /// `did:pkh:eip155:4217:0x…`), when the client named one. The Tempo
    /// methods refuse a payment that did not come from the `source` named;
    /// a method that does not check it passes it on as the client stated it.
    pub fn source(&self) -> Option<&str> {
        self.source.as_deref()
    }
}

impl<P> fmt::Debug for Charge<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Charge")
            .field("receipt", &self.receipt)
            .field("source", &self.source)
            .finish()
    }
}

impl<S: Send + Sync, P: StaticPrice> FromRequestParts<S> for Charge<P> {
    type Rejection = PaymentRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let context = context(parts)?;
        let receipt = context
            .charge(&P::price(), digest(parts).as_deref())
            .await?;
        Ok(Self {
            receipt,
            source: source(&context).map(str::to_owned),
            price: PhantomData,
        })
    }
}

/// `None` when the request carries no `Payment` credential; a credential
/// that does not pay is still rejected.
impl<S: Send + Sync, P: StaticPrice> OptionalFromRequestParts<S> for Charge<P> {
    type Rejection = PaymentRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        if !context(parts)?.has_credential() {
            return Ok(None);
        }
        <Self as FromRequestParts<S>>::from_request_parts(parts, state)
            .await
            .map(Some)
    }
}

/// Charges a price computed at run time.
#[derive(Debug, Clone)]
pub struct Payment {
    context: PaymentContext,
    digest: Option<String>,
}

impl Payment {
    /// Charges `price`: the receipt if the request's credential pays for it,
    /// else the rejection to return (a 402 with fresh challenges when there
    /// is no credential or it does not pay).
    ///
    /// # Errors
    ///
    /// The [`PaymentRejection`] to answer with.
    pub async fn charge(&self, price: Price) -> Result<Receipt, PaymentRejection> {
        self.context.charge(&price, self.digest.as_deref()).await
    }

    /// Verifies the request's credential for a response metered at
    /// `price` per unit (a session's voucher or open), debiting nothing
    /// yet: the [`Metered`] response to deliver and debit item by item
    /// (see [`crate::stream`]). Without a credential, the 402 offers only
    /// methods that meter.
    ///
    /// # Errors
    ///
    /// The [`PaymentRejection`] to answer with.
    pub async fn meter(&self, price: Price) -> Result<Metered, PaymentRejection> {
        let (receipt, meter) = self.context.meter(&price, self.digest.as_deref()).await?;
        Ok(Metered::new(receipt, meter))
    }

    /// Who pays: the credential's `source`, when the request carries a
    /// well-formed credential that names one (see [`Charge::source`]). It
    /// is who paid once [`charge`](Self::charge) or [`meter`](Self::meter)
    /// succeeded.
    pub fn source(&self) -> Option<&str> {
        source(&self.context)
    }

    /// Whether the request carries a `Payment` credential.
    pub fn has_credential(&self) -> bool {
        self.context.has_credential()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Payment {
    type Rejection = PaymentRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            context: context(parts)?,
            digest: digest(parts),
        })
    }
}

impl IntoResponse for PaymentRejection {
    fn into_response(self) -> Response {
        self.into_http_response().map(Body::from)
    }
}
