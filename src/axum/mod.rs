//! Axum extractors that declare a route's price.
//!
//! - [`Charge<P>`]: a price fixed by a type, checked before the handler
//!   runs. `Option<Charge<P>>` is `None` when the request carries no
//!   credential, for routes with a free preview.
//! - [`Payment`]: a price computed at run time, with
//!   [`Payment::charge`].
//!
//! Both need [`PaymentLayer`](crate::layer::PaymentLayer) on the router;
//! without it they answer 500 with a problem body. Their rejection is a
//! [`PaymentRejection`](crate::method::PaymentRejection): a 402 with fresh
//! challenges, a 503 with `Retry-After`, or a 500.
//!
//! ```
//! # use serde_json::{json, Map, Value};
//! # use tower_mpp::method::{MethodError, PaymentMethod, Settlement, Verification, VerifyError};
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
//! use axum::{Router, routing::get};
//! use tower_mpp::axum::{Charge, Payment};
//! use tower_mpp::layer::PaymentLayer;
//! use tower_mpp::method::{PaymentRejection, Payments, Price, StaticPrice};
//!
//! struct OneCent;
//! impl StaticPrice for OneCent {
//!     fn price() -> Price {
//!         Price::base_units(1).description("A joke")
//!     }
//! }
//!
//! async fn joke(_paid: Charge<OneCent>) -> &'static str {
//!     "Why did the agent pay? It had no account."
//! }
//!
//! async fn words(payment: Payment, body: String) -> Result<String, PaymentRejection> {
//!     let price = Price::base_units(body.split_whitespace().count() as u128);
//!     let receipt = payment.charge(price).await?;
//!     Ok(format!("counted, receipt {}", receipt.reference))
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let payments = Payments::builder()
//!     .realm("api.example.com")
//!     .secret("a secret of at least thirty-two bytes!")
//!     .method(Invoice)
//!     .build()?;
//! let app: Router = Router::new()
//!     .route("/joke", get(joke))
//!     .route("/words", axum::routing::post(words))
//!     .layer(PaymentLayer::new(payments));
//! # Ok(())
//! # }
//! ```

mod extract;

pub use extract::{Charge, Payment};
