//! The spans of a paid request, with the `tracing` feature (nothing
//! without it).
//!
//! Each request that carries a credential gets an `mpp.request` span
//! (target `tower_mpp`) with the fields `method`, `intent`, `amount` (the
//! price), `challenge` (the first characters of the challenge id) and
//! `outcome` (`settled`, `refused`, `unavailable` or `error`), and two
//! children: `mpp.verify` (the checks before the method: binding, realm,
//! expiry, price pinning, scope, digest) and `mpp.settle` (the method's
//! verification and settlement, in its own task). Events: a settled
//! payment is `info`, a refused one `info`, a node or store that cannot
//! answer `warn`, a misconfiguration `error`. No span or event holds a
//! credential, a signature, a key or a node URL.

use std::future::Future;

#[cfg(feature = "tracing")]
use http::StatusCode;

use super::price::Price;
use super::rejection::PaymentRejection;
use crate::protocol::{Challenge, Receipt};

/// How many characters of a challenge id a span shows: enough to find the
/// request in logs, too few to matter (the id is not a secret anyway).
#[cfg(feature = "tracing")]
const ID_PREFIX: usize = 8;

/// The `mpp.request` span of one paid request.
pub(super) struct RequestSpan {
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

// The same calls with and without the feature.
#[cfg_attr(not(feature = "tracing"), allow(clippy::unused_self))]
impl RequestSpan {
    /// A span for the credential answering `echo`, paying `price` (none
    /// for a management request).
    pub(super) fn new(echo: &Challenge, price: Option<&Price>) -> Self {
        #[cfg(feature = "tracing")]
        {
            let challenge = echo.id.get(..ID_PREFIX).unwrap_or(&echo.id);
            let span = tracing::info_span!(
                target: "tower_mpp",
                "mpp.request",
                method = %echo.method,
                intent = %echo.intent,
                amount = tracing::field::Empty,
                challenge = %challenge,
                outcome = tracing::field::Empty,
            );
            if let Some(price) = price {
                span.record("amount", tracing::field::display(price));
            }
            Self { span }
        }
        #[cfg(not(feature = "tracing"))]
        {
            let _ = (echo, price);
            Self {}
        }
    }

    /// Runs `work` inside the span.
    #[cfg(feature = "tracing")]
    pub(super) fn instrument<F: Future>(&self, work: F) -> tracing::instrument::Instrumented<F> {
        tracing::Instrument::instrument(work, self.span.clone())
    }

    /// Runs `work` (no span without the `tracing` feature).
    #[cfg(not(feature = "tracing"))]
    pub(super) fn instrument<F: Future>(&self, work: F) -> F {
        work
    }

    /// Records how the request ended, with one event at the level an
    /// operator expects: the receipt's reference when settled, the
    /// problem's detail and cause when not (a cause never holds a secret:
    /// an RPC fault's text has the node's URL cut out).
    pub(super) fn finish(&self, result: Result<&Receipt, &PaymentRejection>) {
        #[cfg(feature = "tracing")]
        {
            let _entered = self.span.enter();
            match result {
                Ok(receipt) => {
                    self.span.record("outcome", "settled");
                    tracing::info!(
                        target: "tower_mpp",
                        reference = %receipt.reference,
                        "payment settled"
                    );
                }
                Err(rejection) => {
                    let status = rejection.status();
                    let cause = std::error::Error::source(rejection);
                    let detail = rejection.detail();
                    if status == StatusCode::SERVICE_UNAVAILABLE {
                        self.span.record("outcome", "unavailable");
                        tracing::warn!(target: "tower_mpp", detail, cause = ?cause, "payment unavailable");
                    } else if status.is_server_error() {
                        self.span.record("outcome", "error");
                        tracing::error!(target: "tower_mpp", detail, cause = ?cause, "payment failed on our side");
                    } else {
                        self.span.record("outcome", "refused");
                        tracing::info!(
                            target: "tower_mpp",
                            status = status.as_u16(),
                            detail,
                            cause = ?cause,
                            "payment refused"
                        );
                    }
                }
            }
        }
        #[cfg(not(feature = "tracing"))]
        let _ = result;
    }
}

/// Runs `checks` in an `mpp.verify` span.
pub(super) fn verifying<T>(checks: impl FnOnce() -> T) -> T {
    #[cfg(feature = "tracing")]
    {
        tracing::info_span!(target: "tower_mpp", "mpp.verify").in_scope(checks)
    }
    #[cfg(not(feature = "tracing"))]
    {
        checks()
    }
}

/// Runs `work` in an `mpp.settle` span.
#[cfg(feature = "tracing")]
pub(super) fn settling<F: Future>(work: F) -> tracing::instrument::Instrumented<F> {
    tracing::Instrument::instrument(work, tracing::info_span!(target: "tower_mpp", "mpp.settle"))
}

/// Runs `work` (no span without the `tracing` feature).
#[cfg(not(feature = "tracing"))]
pub(super) fn settling<F: Future>(work: F) -> F {
    work
}
