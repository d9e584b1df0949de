//! `PaymentLayer`: installs payments on a service.

use tower_layer::Layer;

use super::service::PaymentService;
use crate::method::{Payments, Price};

/// Puts payments in front of a service.
///
/// Without a price, the layer only prepares each request (credential,
/// `Accept-Payment`, route scope) and attaches receipts: handlers declare
/// their price with the [`Charge`](crate::axum::Charge) or
/// [`Payment`](crate::axum::Payment) extractors. With
/// [`charge`](Self::charge), everything behind the layer costs that price
/// and is only called once it is paid, for stacks without extractors.
#[derive(Debug, Clone)]
#[must_use]
pub struct PaymentLayer {
    payments: Payments,
    price: Option<Price>,
}

impl PaymentLayer {
    /// A layer using `payments`.
    pub fn new(payments: Payments) -> Self {
        Self {
            payments,
            price: None,
        }
    }

    /// Charges `price` for every request that reaches the layer.
    pub fn charge(mut self, price: Price) -> Self {
        self.price = Some(price);
        self
    }
}

impl<S> Layer<S> for PaymentLayer {
    type Service = PaymentService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PaymentService::new(inner, self.payments.clone(), self.price.clone())
    }
}
