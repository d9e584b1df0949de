//! The paying client end to end: our `TempoProvider` and
//! `send_with_payment` (and the middleware) against our server on a real
//! Tempo chain (anvil with `--network tempo`), in pull, push and proof
//! modes, with fee sponsorship and splits; spending-policy refusals, the
//! redirect guard, a body resent on retry, and servers that refuse.

#![cfg(all(feature = "client", feature = "tempo", feature = "reqwest-middleware"))]

mod common;
mod guards;
mod pay;
mod policy;

#[path = "../support/anvil.rs"]
mod anvil;

mod support {
    pub(crate) use super::anvil;
}
