//! Payment methods and the registry that offers and verifies them.
//!
//! A [`PaymentMethod`] (Tempo, Stripe, ...) turns a [`Price`] into the
//! method-specific `request` of a challenge and verifies the credentials
//! that answer it. [`Payments`] holds the methods in preference order with
//! the realm, the challenge-signing secrets, the claim store and the hooks;
//! it issues one challenge per method that can serve a price and runs every
//! check of a credential before the method sees it.

/// A `tracing` event with the `tracing` feature; nothing without it. Events
/// name scopes, methods, challenge ids and references, never a credential,
/// a signature or a secret.
macro_rules! trace_event {
    ($($arg:tt)*) => {
        #[cfg(feature = "tracing")]
        {
            tracing::event!(target: "tower_mpp", tracing::Level::DEBUG, $($arg)*);
        }
    };
}

#[cfg(feature = "tempo")]
pub(crate) mod channel_meter;
mod charge;
mod claim;
mod config_error;
mod detach;
mod hooks;
mod limits;
mod manage;
mod meter;
mod offers;
mod payment_method;
mod price;
mod registry;
mod rejection;
mod resume;
mod trace;

pub use charge::ChargeContext;
pub use config_error::ConfigError;
pub use hooks::{
    ChallengeIssued, NoHooks, PaymentFailed, PaymentHooks, PaymentSettled, RefundCandidate,
};
pub use limits::{
    ChallengeAttempts, DEFAULT_FREE_CLAIMS, DEFAULT_FREE_WINDOW, DEFAULT_MAX_FAILED_ATTEMPTS,
};
pub use meter::{Balance, DEFAULT_PAYMENT_WAIT, Meter, MeterError, MeterFuture};
pub use payment_method::{
    Management, MethodError, PaymentMethod, Settlement, Verification, VerifyError, request_object,
};
pub use price::{Amount, Price, PriceError, StaticPrice};
pub use registry::{Payments, PaymentsBuilder, REALM_ENV_VARS};
pub use rejection::{PaymentRejection, ProblemResponder, RejectionKind, RejectionResponder};
