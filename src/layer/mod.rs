//! The tower layer: [`PaymentLayer`], [`PaymentService`] and its
//! [`ResponseFuture`], plus [`BodyDigestLayer`] for routes that bind their
//! request body and [`IdempotencyLayer`] for retries of paid requests.
//!
//! The service reads the request's `Payment` credential (more than one:
//! 400), its `Accept-Payment` and its route scope, and puts them in the
//! request extensions for the extractors. With a fixed price
//! ([`PaymentLayer::charge`]) it verifies the payment itself before calling
//! the inner service. On the way out, a 2xx response of a paid request gets
//! `Payment-Receipt` and `Cache-Control: private`; any other response of a
//! paid request is reported as a refund candidate and gets no receipt.
//!
//! ```
//! # use serde_json::{json, Map, Value};
//! # use tower_mpp::method::{MethodError, PaymentMethod, Price, Settlement, Verification, VerifyError};
//! # struct Invoice;
//! # impl PaymentMethod for Invoice {
//! #     fn name(&self) -> &str { "invoice" }
//! #     fn request(&self, _: &str, price: &Price) -> Result<Option<Map<String, Value>>, MethodError> {
//! #         let cents = price.amount().to_base_units(2).map_err(|e| MethodError::new("price").with_source(e))?;
//! #         Ok(json!({"amount": cents.to_string(), "currency": "usd"}).as_object().cloned())
//! #     }
//! #     async fn verify(&self, _: &Verification<'_>) -> Result<Settlement, VerifyError> {
//! #         Err(VerifyError::failed("unpaid invoice"))
//! #     }
//! # }
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use tower::{ServiceBuilder, ServiceExt};
//! use tower_mpp::layer::PaymentLayer;
//! use tower_mpp::method::Payments;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let payments = Payments::builder()
//!     .realm("api.example.com")
//!     .secret("a secret of at least thirty-two bytes!")
//!     .method(Invoice)
//!     .build()?;
//!
//! let service = ServiceBuilder::new()
//!     .layer(PaymentLayer::new(payments).charge(Price::new("0.50")?))
//!     .service_fn(|_: Request<Full<Bytes>>| async {
//!         Ok::<_, std::convert::Infallible>(Response::new(Full::<Bytes>::from("paid content")))
//!     });
//!
//! let response = service.oneshot(Request::new(Full::<Bytes>::default())).await?;
//! assert_eq!(response.status(), StatusCode::PAYMENT_REQUIRED);
//! let challenge = response.headers()["www-authenticate"].to_str()?;
//! assert!(challenge.starts_with("Payment id="));
//! assert!(challenge.contains(r#"method="invoice""#));
//! assert_eq!(response.headers()["cache-control"], "no-store");
//! # Ok(())
//! # }
//! ```

mod body;
mod context;
mod future;
mod idempotency;
#[allow(clippy::module_inception)]
mod layer;
mod manage;
mod replay;
mod service;

pub use body::{
    BodyDigestFuture, BodyDigestLayer, BodyDigestService, DEFAULT_BODY_LIMIT,
    DEFAULT_BODY_READ_TIMEOUT,
};
pub use context::{BodyDigest, PaidResponse};
pub use future::{PAYMENT_RECEIPT, ResponseFuture};
pub use idempotency::{
    DEFAULT_PENDING_TTL, DEFAULT_REPLAY_BODY, DEFAULT_REPLAY_TTL, IDEMPOTENCY_KEY,
    IDEMPOTENT_REPLAYED, IdempotencyFuture, IdempotencyLayer, IdempotencyService,
};
pub use layer::PaymentLayer;
pub use service::PaymentService;

#[cfg(feature = "axum")]
pub(crate) use context::PaymentContext;
