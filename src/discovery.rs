//! Payment discovery (`draft-payment-discovery-00`): an OpenAPI 3.1
//! document, served at `GET /openapi.json`, whose payable operations carry
//! an `x-payment-info` extension listing their payment offers.
//!
//! Discovery is advisory (the 402 challenge stays authoritative), but
//! agents and registries use it to find what an API costs before calling
//! it. The offers come from the same registry that issues the challenges,
//! so the two cannot disagree.
//!
//! ```
//! use tower_mpp::discovery::{Discovery, Offer};
//! use tower_mpp::method::{Payments, Price};
//! # use serde_json::{json, Map, Value};
//! # use tower_mpp::method::{MethodError, PaymentMethod, Settlement, Verification, VerifyError};
//! # struct Usd;
//! # impl PaymentMethod for Usd {
//! #     fn name(&self) -> &str { "invoice" }
//! #     fn request(&self, _: &str, price: &Price) -> Result<Option<Map<String, Value>>, MethodError> {
//! #         let cents = price.amount().to_base_units(2).map_err(|e| MethodError::new("price").with_source(e))?;
//! #         Ok(json!({"amount": cents.to_string(), "currency": "usd"}).as_object().cloned())
//! #     }
//! #     async fn verify(&self, _: &Verification<'_>) -> Result<Settlement, VerifyError> { unreachable!() }
//! # }
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let payments = Payments::builder()
//!     .realm("api.example.com")
//!     .secret("a secret of at least thirty-two bytes!!")
//!     .method(Usd)
//!     .build()?;
//! let document = Discovery::new("Jokes", "1.0.0")
//!     .paid("GET", "/joke", "A joke", payments.offers(&Price::new("0.50")?)?)
//!     .paid("POST", "/poem", "A poem, priced by length", vec![Offer::dynamic("charge", "invoice")])
//!     .free("GET", "/health", "Liveness")
//!     .to_json();
//! let offer = &document["paths"]["/joke"]["get"]["x-payment-info"]["offers"][0];
//! assert_eq!(offer["amount"], "50");
//! assert_eq!(offer["currency"], "usd");
//! # Ok(()) }
//! ```

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::method::{PaymentRejection, Payments, Price};

/// One way to pay for an operation: an intent, a method, an amount in base
/// units (or `None` when the price depends on the request) and a currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Offer {
    /// The intent, e.g. `charge`.
    pub intent: String,
    /// The payment method, e.g. `tempo`.
    pub method: String,
    /// Base units as a decimal string, or `None` (`null`) for prices
    /// computed per request.
    pub amount: Option<String>,
    /// The currency: a token address or an ISO 4217 code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// A human-readable pricing note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Offer {
    /// An offer whose amount is computed per request.
    pub fn dynamic(intent: impl Into<String>, method: impl Into<String>) -> Self {
        Self {
            intent: intent.into(),
            method: method.into(),
            amount: None,
            currency: None,
            description: None,
        }
    }

    /// With a currency.
    #[must_use]
    pub fn currency(mut self, currency: impl Into<String>) -> Self {
        self.currency = Some(currency.into());
        self
    }

    /// With a pricing note.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }
}

impl Payments {
    /// The discovery offers for `price`: one per method that can charge it,
    /// in server order, with the amount and currency its challenges carry.
    ///
    /// # Errors
    ///
    /// A `Misconfigured` [`PaymentRejection`] when a method cannot express
    /// the price (as issuing a challenge would fail), or the price's
    /// description was left out (see [`Price::check`]): discovery is
    /// built at start-up, where such a price is refused.
    pub fn offers(&self, price: &Price) -> Result<Vec<Offer>, PaymentRejection> {
        price.check().map_err(|e| {
            self.misconfigured("the price's description cannot be offered")
                .with_source(e)
        })?;
        let text = |object: &Map<String, Value>, field: &str| {
            object.get(field).and_then(Value::as_str).map(str::to_owned)
        };
        Ok(self
            .method_requests(price)?
            .into_iter()
            .map(|(method, request)| Offer {
                intent: "charge".to_owned(),
                method,
                amount: text(&request, "amount"),
                currency: text(&request, "currency"),
                description: price.description_text().map(str::to_owned),
            })
            .collect())
    }
}

/// An OpenAPI 3.1 document with payment offers.
#[derive(Debug, Clone)]
#[must_use]
pub struct Discovery {
    title: String,
    version: String,
    service_info: Map<String, Value>,
    paths: Map<String, Value>,
}

impl Discovery {
    /// A document for the service `title`, API version `version`.
    pub fn new(title: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            version: version.into(),
            service_info: Map::new(),
            paths: Map::new(),
        }
    }

    /// `x-service-info.categories` (free-form, lowercase, at most 5
    /// recommended).
    pub fn categories<I, S>(mut self, categories: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let list = categories
            .into_iter()
            .map(|c| Value::String(c.into()))
            .collect();
        self.service_info
            .insert("categories".into(), Value::Array(list));
        self
    }

    /// `x-service-info.docs.<kind>`: `homepage`, `apiReference` or `llms`.
    pub fn docs(mut self, kind: &str, url: impl Into<String>) -> Self {
        let docs = self
            .service_info
            .entry("docs")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(docs) = docs {
            docs.insert(kind.to_owned(), Value::String(url.into()));
        }
        self
    }

    /// A payable operation (`method` is the HTTP method, e.g. `GET`), with
    /// its offers and a `402` response.
    pub fn paid(
        self,
        method: &str,
        path: &str,
        summary: &str,
        offers: impl IntoIterator<Item = Offer>,
    ) -> Self {
        let offers: Vec<Offer> = offers.into_iter().collect();
        let operation = json!({
            "summary": summary,
            "x-payment-info": {"offers": offers},
            "responses": {
                "200": {"description": "Successful response"},
                "402": {"description": "Payment Required"},
            },
        });
        self.operation(method, path, operation)
    }

    /// A free operation.
    pub fn free(self, method: &str, path: &str, summary: &str) -> Self {
        let operation = json!({
            "summary": summary,
            "responses": {"200": {"description": "Successful response"}},
        });
        self.operation(method, path, operation)
    }

    /// Any operation object, as written (for request schemas and the
    /// like).
    pub fn operation(mut self, method: &str, path: &str, operation: Value) -> Self {
        let item = self
            .paths
            .entry(path)
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(item) = item {
            item.insert(method.to_ascii_lowercase(), operation);
        }
        self
    }

    /// The document.
    pub fn to_json(&self) -> Value {
        let mut document = json!({
            "openapi": "3.1.0",
            "info": {"title": self.title, "version": self.version},
            "paths": self.paths,
        });
        if !self.service_info.is_empty() {
            document["x-service-info"] = Value::Object(self.service_info.clone());
        }
        document
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_carry_offers_and_a_402() {
        let offer = Offer::dynamic("charge", "tempo")
            .currency("0x20c0000000000000000000000000000000000000")
            .description("by length");
        let doc = Discovery::new("t", "1")
            .categories(["data"])
            .docs("llms", "https://example.com/llms.txt")
            .paid("POST", "/a", "A", vec![offer])
            .free("GET", "/a", "read A")
            .to_json();
        let post = &doc["paths"]["/a"]["post"];
        assert_eq!(post["x-payment-info"]["offers"][0]["amount"], Value::Null);
        assert_eq!(post["responses"]["402"]["description"], "Payment Required");
        assert!(doc["paths"]["/a"]["get"].get("x-payment-info").is_none());
        assert_eq!(doc["x-service-info"]["categories"][0], "data");
        assert_eq!(doc["openapi"], "3.1.0");
    }
}
