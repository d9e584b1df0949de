//! `http.payment_request`: the adapter as a paying client.

use serde_json::{Value, json};

use super::{abi, call, fixture};

/// `http.payment_request` pays a route of our own layer through our
/// client: paid, unpaid (`plain`) and the harness's two tampering modes,
/// each answered by the registry.
#[test]
fn the_adapter_pays_as_a_client() {
    use tower_mpp::layer::PaymentLayer;
    use tower_mpp::method::Price;

    let file = fixture("server-verification-cases.json");
    let payments = abi::server_verify::payments(&file["cases"][0]["input"]).unwrap();
    let app = axum::Router::new()
        .route("/paid", axum::routing::get(|| async { "paid content" }))
        .route_layer(PaymentLayer::new(payments).charge(Price::base_units(100)));
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    let addr = addr_rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the test server did not start");
    let request = |mode: &str| {
        let input = json!({
            "url": format!("http://{addr}/paid"), "method": "GET", "headers": {}, "body": null,
            "payment": {"payload": {"type": "hash", "hash": "0xabc123"}, "source": null},
            "mode": mode,
        });
        let response = call("http.payment_request", &input, mode);
        assert_eq!(response["ok"], true, "{mode}: {response}");
        response["value"].clone()
    };

    let paid = request("payment");
    assert_eq!(paid["status"], 200, "{paid}");
    assert_eq!(paid["body"], "paid content");
    assert!(paid["headers"]["payment-receipt"].is_string(), "{paid}");

    let plain = request("plain");
    assert_eq!(plain["status"], 402, "{plain}");
    assert!(
        plain["headers"]["www-authenticate"]
            .as_str()
            .unwrap()
            .starts_with("Payment ")
    );

    for mode in ["mismatched_request", "invalid_challenge_id"] {
        let refused = request(mode);
        assert_eq!(refused["status"], 402, "{mode}: {refused}");
        let problem: Value = serde_json::from_str(refused["body"].as_str().unwrap()).unwrap();
        assert_eq!(
            problem["type"], "https://paymentauth.org/problems/invalid-challenge",
            "{mode}: {problem}"
        );
    }
}
