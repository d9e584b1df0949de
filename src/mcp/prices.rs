//! What each tool, resource and prompt costs: a fixed [`Price`] or one
//! computed from the call.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::method::Price;

/// One priced call, as a per-call price sees it.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct PricedCall<'a> {
    /// The tool or prompt name, or the resource URI.
    pub name: &'a str,
    /// The call's arguments (empty for a resource, or when none were sent).
    pub arguments: &'a Map<String, Value>,
}

type PriceFn = dyn Fn(&PricedCall<'_>) -> Price + Send + Sync;

/// A price: fixed, or computed per call.
#[derive(Clone)]
pub(super) enum Priced {
    Fixed(Price),
    PerCall(Arc<PriceFn>),
}

impl Priced {
    pub(super) fn price(&self, call: &PricedCall<'_>) -> Price {
        match self {
            Self::Fixed(price) => price.clone(),
            Self::PerCall(price) => price(call),
        }
    }
}

/// The kinds of MCP operation the transport draft lets a server charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Operation {
    Tool,
    Resource,
    Prompt,
}

impl Operation {
    /// The JSON-RPC method, the first word of a challenge's scope.
    pub(super) fn method(self) -> &'static str {
        match self {
            Self::Tool => "tools/call",
            Self::Resource => "resources/read",
            Self::Prompt => "prompts/get",
        }
    }
}

/// The price list of a server.
#[derive(Clone, Default)]
pub(super) struct Prices {
    entries: HashMap<Operation, HashMap<String, Priced>>,
}

impl Prices {
    pub(super) fn insert(&mut self, operation: Operation, name: String, priced: Priced) {
        self.entries
            .entry(operation)
            .or_default()
            .insert(name, priced);
    }

    pub(super) fn get(&self, operation: Operation, name: &str) -> Option<&Priced> {
        self.entries.get(&operation)?.get(name)
    }
}

impl fmt::Debug for Prices {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().flat_map(|(op, names)| {
                names
                    .keys()
                    .map(move |name| format!("{} {name}", op.method()))
            }))
            .finish()
    }
}
