//! A JSON-RPC node that knows one thing, its chain id: what `mpp` asks
//! before its first verification.

use axum::Json;
use axum::Router;
use axum::routing::post;
use serde_json::{Value, json};

use crate::CHAIN_ID;

/// Serves the stub on a loopback port from a thread of its own (with its
/// own runtime, so it answers whatever the caller's runtime is doing) and
/// returns its URL. It lives as long as the process.
pub fn spawn_rpc_stub() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    listener
        .set_nonblocking(true)
        .expect("a non-blocking socket");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("a listener");
            let app = Router::new().route("/", post(answer));
            axum::serve(listener, app).await.expect("the stub serves");
        });
    });
    url
}

/// Every call gets the chain id; `mpp` makes no other call on the paths
/// benchmarked, and anything else would fail its checks loudly.
async fn answer(Json(call): Json<Value>) -> Json<Value> {
    Json(json!({
        "jsonrpc": "2.0",
        "id": call.get("id").cloned().unwrap_or(Value::Null),
        "result": format!("{CHAIN_ID:#x}"),
    }))
}
