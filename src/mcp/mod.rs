//! Paid MCP tools: the JSON-RPC and MCP transport of MPP
//! (draft-payment-transport-mcp-00) on [`rmcp`], through the same
//! [`Payments`](crate::method::Payments) registry as HTTP.
//!
//! [`PaidServer`] wraps any rmcp server and gives some of its tools,
//! resources and prompts a price. An unpaid call is answered with the
//! JSON-RPC error `-32042` whose `data.challenges` are the registry's
//! challenges as JSON objects (`request` native, bound by the challenge id
//! through its JCS form); the client pays one and calls again with the
//! credential in `params._meta["org.paymentauth/credential"]`; the result
//! carries `_meta["org.paymentauth/receipt"]`. A credential that does not
//! pay is answered `-32043` with a fresh challenge and a `failure`, a
//! malformed one `-32602`, and trouble on the server's side (an RPC node
//! or the store down) `-32603` with `data.httpStatus = 503`.
//!
//! It serves over any rmcp transport: stdio, and streamable HTTP on axum,
//! where it sits behind the same tower stack as the rest of the app (see
//! [`RootMetaLayer`] for plain JSON-RPC clients that put `_meta` at the
//! root of the message).
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
//! # #[derive(Clone)] struct Tools;
//! # impl rmcp::ServerHandler for Tools {}
//! use tower_mpp::mcp::PaidServer;
//! use tower_mpp::method::{Payments, Price};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let payments = Payments::builder()
//!     .realm("tools.example.com")
//!     .secret("a secret of at least thirty-two bytes!")
//!     .method(Invoice)
//!     .build()?;
//! let server = PaidServer::new(Tools, payments)
//!     .tool("joke", Price::base_units(1))
//!     .tool_priced_by("words", |call| {
//!         let text = call.arguments.get("text").and_then(|t| t.as_str()).unwrap_or("");
//!         Price::base_units(text.split_whitespace().count() as u128)
//!     });
//! // rmcp::ServiceExt::serve(server, rmcp::transport::stdio()).await?;
//! # let _ = server;
//! # Ok(())
//! # }
//! ```

mod error;
mod handler;
mod prices;
mod replay;
mod root_meta;
mod server;
pub mod wire;

pub use error::{rejection_to_error, rejection_to_tool_result};
pub use prices::PricedCall;
pub use root_meta::{
    DEFAULT_MAX_BODY, RootMetaFuture, RootMetaLayer, RootMetaService, lift_root_meta,
};
pub use server::PaidServer;
