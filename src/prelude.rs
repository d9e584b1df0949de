//! The names a server or a paying client needs, for one glob import:
//! `use tower_mpp::prelude::*;`. Each name is here only with the feature
//! that brings it.
//!
//! ```no_run
//! # #[cfg(all(feature = "axum", feature = "tempo"))]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use axum::{Router, routing::get};
//! use tower_mpp::prelude::*;
//!
//! struct OneCent;
//! impl StaticPrice for OneCent {
//!     fn price() -> Price {
//!         Price::base_units(10_000)
//!     }
//! }
//!
//! let payments = Payments::builder()
//!     .realm_from_env("api.example.com")
//!     .secret_from_env()
//!     .method(TempoCharge::builder().from_env().connect().await?)
//!     .build()?;
//! let app: Router = Router::new()
//!     .route("/paid", get(|_: Charge<OneCent>| async { "paid" }))
//!     .layer(PaymentLayer::new(payments));
//! # let _ = app; Ok(()) }
//! ```

pub use crate::layer::PaymentLayer;
pub use crate::method::{PaymentRejection, Payments, Price, StaticPrice};

#[cfg(feature = "axum")]
pub use crate::axum::{Charge, Payment};

#[cfg(feature = "tempo")]
pub use crate::tempo::TempoCharge;
#[cfg(feature = "tempo")]
pub use crate::tempo::session::{SettleThreshold, TempoSession};

#[cfg(feature = "client")]
pub use crate::client::{PaymentExt, ReceiptExt, SpendingPolicy, WithPolicy};
#[cfg(all(feature = "client", feature = "tempo"))]
pub use crate::client::{PrivateKeySigner, TempoProvider, TempoSessionProvider};

#[cfg(feature = "reqwest-middleware")]
pub use crate::client::PaymentMiddleware;
