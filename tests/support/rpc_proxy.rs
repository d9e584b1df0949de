//! A JSON-RPC proxy in front of a real node that counts the calls it
//! forwards and can misbehave on demand: answer slowly, answer JSON-RPC
//! errors about itself, answer garbage, or fail with HTTP 502.

// Each user takes what it needs.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

/// How the proxy answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Behaviour {
    /// Forwards every call.
    Forward,
    /// Forwards after a delay.
    Slow(Duration),
    /// Answers a JSON-RPC internal error.
    InternalError,
    /// Answers bytes that are not JSON.
    Garbage,
    /// Answers HTTP 502.
    BadGateway,
    /// Forwards everything but `eth_sendRawTransactionSync`, which it
    /// answers "method not found", like a node without it.
    WithoutSync,
}

#[derive(Clone)]
struct Shared {
    upstream: String,
    client: reqwest::Client,
    behaviour: Arc<Mutex<Behaviour>>,
    calls: Arc<Mutex<Vec<String>>>,
}

/// A running proxy; stops with the test's runtime.
pub(crate) struct RpcProxy {
    pub(crate) url: String,
    behaviour: Arc<Mutex<Behaviour>>,
    calls: Arc<Mutex<Vec<String>>>,
}

impl RpcProxy {
    /// Starts a proxy to `upstream` on a free loopback port.
    pub(crate) async fn start(upstream: &str) -> Self {
        let shared = Shared {
            upstream: upstream.to_owned(),
            client: reqwest::Client::new(),
            behaviour: Arc::new(Mutex::new(Behaviour::Forward)),
            calls: Arc::new(Mutex::new(Vec::new())),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let proxy = Self {
            url,
            behaviour: shared.behaviour.clone(),
            calls: shared.calls.clone(),
        };
        let app = Router::new().route("/", post(forward)).with_state(shared);
        tokio::spawn(async move { axum::serve(listener, app).await });
        proxy
    }

    /// Changes how the proxy answers from now on.
    pub(crate) fn set(&self, behaviour: Behaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }

    /// The JSON-RPC methods called so far, in order; and forgets them.
    pub(crate) fn take_calls(&self) -> Vec<String> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

async fn forward(State(shared): State<Shared>, body: Bytes) -> Response {
    let method = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["method"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let behaviour = *shared.behaviour.lock().unwrap();
    shared.calls.lock().unwrap().push(method.clone());
    let id = serde_json::from_slice::<serde_json::Value>(&body)
        .map(|v| v["id"].clone())
        .unwrap_or_default();
    let rpc_error = |code: i64, message: &str| {
        let error = serde_json::json!({
            "jsonrpc": "2.0", "id": id,
            "error": {"code": code, "message": message},
        });
        (
            [(header::CONTENT_TYPE, "application/json")],
            error.to_string(),
        )
            .into_response()
    };
    match behaviour {
        Behaviour::WithoutSync if method == "eth_sendRawTransactionSync" => {
            return rpc_error(
                -32601,
                "the method eth_sendRawTransactionSync does not exist",
            );
        }
        Behaviour::Forward | Behaviour::WithoutSync => {}
        Behaviour::Slow(delay) => tokio::time::sleep(delay).await,
        Behaviour::InternalError => return rpc_error(-32603, "internal error"),
        Behaviour::Garbage => {
            return ([(header::CONTENT_TYPE, "application/json")], "<html>oops").into_response();
        }
        Behaviour::BadGateway => return StatusCode::BAD_GATEWAY.into_response(),
    }
    let answer = shared
        .client
        .post(&shared.upstream)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await;
    match answer {
        Ok(answer) => {
            let status = answer.status();
            let bytes = answer.bytes().await.unwrap_or_default();
            (
                StatusCode::from_u16(status.as_u16()).unwrap(),
                [(header::CONTENT_TYPE, "application/json")],
                bytes,
            )
                .into_response()
        }
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}
