//! A credential in the root `_meta` of a JSON-RPC message (the generic
//! JSON-RPC placement of the transport draft), moved to `params._meta`
//! where rmcp reads it: rmcp's message types keep no root member but
//! `jsonrpc`, `id`, `method` and `params`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::Request;
use http_body::Body;
use http_body_util::{BodyExt as _, Full, Limited};
use serde_json::{Map, Value};
use tower_layer::Layer;
use tower_service::Service;

use super::wire::CREDENTIAL_KEY;

/// The largest JSON-RPC body [`RootMetaLayer`] reads by default: 4 MiB,
/// rmcp's own default.
pub const DEFAULT_MAX_BODY: usize = 4 << 20;

/// Moves a credential from a request's root `_meta` into `params._meta`
/// (a batch: each request of it). A credential already in `params._meta`
/// wins; a request whose `params` is not an object (an array, as plain
/// JSON-RPC allows) cannot be an MCP call and is left as it is. Returns
/// whether anything moved.
pub fn lift_root_meta(message: &mut Value) -> bool {
    match message {
        // Every request of the batch is lifted, not only the first.
        Value::Array(batch) => batch.iter_mut().map(lift_one).fold(false, |a, b| a | b),
        message => lift_one(message),
    }
}

fn lift_one(message: &mut Value) -> bool {
    let Some(object) = message.as_object_mut() else {
        return false;
    };
    let Some(Value::Object(root)) = object.get("_meta") else {
        return false;
    };
    let Some(credential) = root.get(CREDENTIAL_KEY).cloned() else {
        return false;
    };
    let params = object
        .entry("params")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(params) = params.as_object_mut() else {
        return false;
    };
    let meta = params
        .entry("_meta")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(meta) = meta.as_object_mut() else {
        return false;
    };
    if meta.contains_key(CREDENTIAL_KEY) {
        return false;
    }
    meta.insert(CREDENTIAL_KEY.into(), credential);
    if let Some(Value::Object(root)) = object.get_mut("_meta") {
        root.remove(CREDENTIAL_KEY);
    }
    true
}

/// Applies [`lift_root_meta`] to the JSON-RPC bodies of an HTTP service
/// (rmcp's `StreamableHttpService`), so that plain JSON-RPC clients may
/// send the credential at the root of the message.
///
/// The body is read whole (at most `max_body` bytes; a larger or unreadable
/// one is passed on empty, which the MCP service refuses as invalid JSON)
/// and handed on as `Full<Bytes>`.
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct RootMetaLayer {
    max_body: usize,
}

impl RootMetaLayer {
    /// A layer reading bodies of at most [`DEFAULT_MAX_BODY`].
    pub fn new() -> Self {
        Self {
            max_body: DEFAULT_MAX_BODY,
        }
    }

    /// The largest body read.
    pub fn max_body(self, max_body: usize) -> Self {
        Self { max_body }
    }
}

impl Default for RootMetaLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> Layer<S> for RootMetaLayer {
    type Service = RootMetaService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RootMetaService {
            inner,
            max_body: self.max_body,
        }
    }
}

/// The service of [`RootMetaLayer`].
#[derive(Debug, Clone)]
pub struct RootMetaService<S> {
    inner: S,
    max_body: usize,
}

/// Response future of [`RootMetaService`].
pub struct RootMetaFuture<R, E> {
    inner: Pin<Box<dyn Future<Output = Result<R, E>> + Send>>,
}

impl<R, E> fmt::Debug for RootMetaFuture<R, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RootMetaFuture").finish_non_exhaustive()
    }
}

impl<R, E> Future for RootMetaFuture<R, E> {
    type Output = Result<R, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl<S, B> Service<Request<B>> for RootMetaService<S>
where
    S: Service<Request<Full<Bytes>>> + Clone + Send + 'static,
    S::Future: Send,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = RootMetaFuture<S::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The service polled ready is the one called.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let max_body = self.max_body;
        RootMetaFuture {
            inner: Box::pin(async move {
                let (parts, body) = request.into_parts();
                let bytes = match Limited::new(body, max_body).collect().await {
                    Ok(collected) => lifted(collected.to_bytes()),
                    Err(_) => Bytes::new(),
                };
                inner
                    .call(Request::from_parts(parts, Full::new(bytes)))
                    .await
            }),
        }
    }
}

/// The body with its credential lifted, or as it was.
fn lifted(bytes: Bytes) -> Bytes {
    // Only a body that mentions the key is parsed twice.
    if !bytes
        .windows(CREDENTIAL_KEY.len())
        .any(|w| w == CREDENTIAL_KEY.as_bytes())
    {
        return bytes;
    }
    let Ok(mut message) = serde_json::from_slice::<Value>(&bytes) else {
        return bytes;
    };
    if !lift_root_meta(&mut message) {
        return bytes;
    }
    serde_json::to_vec(&message).map_or(bytes, Bytes::from)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn mcp_root_meta_credentials_move_into_params_meta() {
        let credential = json!({"challenge": {}, "payload": {}});
        let mut message = json!({
            "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "joke"},
            "_meta": {CREDENTIAL_KEY: credential.clone(), "other": 1},
        });
        assert!(lift_root_meta(&mut message));
        assert_eq!(message["params"]["_meta"][CREDENTIAL_KEY], credential);
        assert_eq!(message["_meta"], json!({"other": 1}));
        // params._meta wins; array params are left alone.
        let mut both =
            json!({"params": {"_meta": {CREDENTIAL_KEY: 1}}, "_meta": {CREDENTIAL_KEY: 2}});
        assert!(!lift_root_meta(&mut both));
        assert_eq!(both["params"]["_meta"][CREDENTIAL_KEY], 1);
        let mut array = json!({"params": [1], "_meta": {CREDENTIAL_KEY: 2}});
        assert!(!lift_root_meta(&mut array));
        let mut batch = json!([{"method": "tools/call", "_meta": {CREDENTIAL_KEY: 3}}]);
        assert!(lift_root_meta(&mut batch));
        assert_eq!(batch[0]["params"]["_meta"][CREDENTIAL_KEY], 3);
    }
}
