//! `PaymentService`: the tower service behind [`PaymentLayer`](super::PaymentLayer).

use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use tower_service::Service;

use super::context::{BodyDigest, PaymentContext};
use super::future::{ResponseFuture, Verified};
use super::manage;
use crate::method::{Payments, Price};

/// Prepares each request for payment, charges a fixed price when one is set,
/// and attaches `Payment-Receipt` to the 2xx response of a paid request.
///
/// Responses built here (400 for several credentials, and the rejections of
/// a fixed price) need `ResBody: From<Bytes>`, which `axum::body::Body` and
/// `http_body_util::Full<Bytes>` satisfy.
#[derive(Debug, Clone)]
pub struct PaymentService<S> {
    inner: S,
    payments: Payments,
    price: Option<Arc<Price>>,
}

impl<S> PaymentService<S> {
    pub(crate) fn new(inner: S, payments: Payments, price: Option<Price>) -> Self {
        Self {
            inner,
            payments,
            price: price.map(Arc::new),
        }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    ///
    /// ```
    /// use tower::{Layer, service_fn};
    /// use tower_mpp::layer::PaymentLayer;
    /// use tower_mpp::method::Payments;
    /// # use serde_json::{Map, Value};
    /// # use tower_mpp::method::{MethodError, PaymentMethod, Price, Settlement, Verification, VerifyError};
    /// # struct Invoice;
    /// # impl PaymentMethod for Invoice {
    /// #     fn name(&self) -> &str { "invoice" }
    /// #     fn request(&self, _: &str, _: &Price) -> Result<Option<Map<String, Value>>, MethodError> { Ok(None) }
    /// #     async fn verify(&self, _: &Verification<'_>) -> Result<Settlement, VerifyError> { Err(VerifyError::failed("unpaid")) }
    /// # }
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let payments = Payments::builder()
    ///     .realm("api.example.com")
    ///     .secret("a secret of at least thirty-two bytes!")
    ///     .method(Invoice)
    ///     .build()?;
    /// let inner = service_fn(|_: http::Request<String>| async {
    ///     Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
    /// });
    /// let mut service = PaymentLayer::new(payments).layer(inner);
    /// let _inner = service.get_mut();
    /// let _inner = service.into_inner();
    /// # Ok(()) }
    /// ```
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The wrapped service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for PaymentService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ResBody: From<Bytes>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S, Request<ReqBody>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // The service polled ready is the one called; a fresh clone stays.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);

        let context = match PaymentContext::from_request(&self.payments, &mut request) {
            Ok(context) => context,
            Err(rejection) => return ResponseFuture::rejected(rejection),
        };
        request.extensions_mut().insert(context.clone());
        if let Some(credential) = manage::candidate(&request, &context) {
            let answering = manage::answer(self.payments.clone(), credential);
            return ResponseFuture::verifying(Box::pin(answering), inner, request, &context);
        }
        match &self.price {
            None => ResponseFuture::inner(inner.call(request), &context),
            Some(price) => {
                let price = price.clone();
                let charging = context.clone();
                let digest = request
                    .extensions()
                    .get::<BodyDigest>()
                    .map(|d| d.0.clone());
                let verification = Box::pin(async move {
                    charging
                        .charge(&price, digest.as_deref())
                        .await
                        .map(|_| Verified::Proceed)
                });
                ResponseFuture::verifying(verification, inner, request, &context)
            }
        }
    }
}
