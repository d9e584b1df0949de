//! `PaidServer` over streamable HTTP on axum, behind `RootMetaLayer`, as
//! plain JSON-RPC sees it: the exact wire form, a credential at the root
//! of the message, and a paid method sent as a notification.

use std::sync::Arc;

use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::{Value, json};
use tower_mpp::mcp::RootMetaLayer;

use crate::common::{Env, pay};

/// Serves `env`'s server statelessly (JSON answers) at `/mcp`; the URL.
async fn serve(env: &Env) -> String {
    let server = env.server();
    let service = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(NeverSessionManager::default()),
        StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_json_response(true),
    );
    let app = axum::Router::new().nest_service(
        "/mcp",
        tower::ServiceBuilder::new()
            .layer(RootMetaLayer::new())
            .service(service),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// POSTs one JSON-RPC message; the status and the JSON answer (`Null`
/// when the body is empty).
async fn post(url: &str, message: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(message.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
    };
    (status, body)
}

fn call(id: u64, name: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": name, "arguments": {}}})
}

#[tokio::test]
async fn mcp_over_http_the_wire_form_and_a_root_meta_credential() {
    let env = Env::new();
    let url = serve(&env).await;
    let (_, answer) = post(&url, &call(1, "joke")).await;
    assert_eq!(answer["id"], 1);
    let error = &answer["error"];
    assert_eq!(error["code"], -32042, "{answer}");
    let challenge = error["data"]["challenges"][0].clone();
    assert!(challenge["request"].is_object(), "{challenge}");
    assert!(challenge["opaque"].is_string());

    // Plain JSON-RPC: the credential at the root of the message.
    let mut paid = call(2, "joke");
    paid["_meta"] = json!({"org.paymentauth/credential": pay(&challenge, "paid")});
    let (_, answer) = post(&url, &paid).await;
    let receipt = &answer["result"]["_meta"]["org.paymentauth/receipt"];
    assert_eq!(receipt["challengeId"], challenge["id"], "{answer}");
    assert_eq!(receipt["status"], "success");
    assert!(answer.get("error").is_none());
    assert_eq!(env.served(), 1);
}

#[tokio::test]
async fn mcp_a_paid_method_sent_as_a_notification_is_not_processed() {
    let env = Env::new();
    let url = serve(&env).await;
    let (_, first) = post(&url, &call(1, "joke")).await;
    let challenge = first["error"]["data"]["challenges"][0].clone();
    let mut notification = call(0, "joke");
    notification.as_object_mut().unwrap().remove("id");
    notification["params"]["_meta"] =
        json!({"org.paymentauth/credential": pay(&challenge, "paid")});
    let (status, body) = post(&url, &notification).await;
    assert!(status < 300, "{status}");
    assert!(body.is_null() || body.get("result").is_none(), "{body}");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(env.served(), 0, "not served");
    assert_eq!(
        env.verified.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "not paid"
    );
    // The credential is still good for a request.
    let mut request = call(3, "joke");
    request["params"]["_meta"] = json!({"org.paymentauth/credential": pay(&challenge, "paid")});
    let (_, answer) = post(&url, &request).await;
    assert!(
        answer["result"]["_meta"]["org.paymentauth/receipt"].is_object(),
        "{answer}"
    );
}
