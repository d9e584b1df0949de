//! A paid proof request served COUNT times through the router, for a
//! profiler: `valgrind --tool=callgrind --toggle-collect='profile::serve'`
//! counts only [`serve`], not the signing of the credentials beforehand.
//!
//! ```text
//! profile PATH COUNT     # PATH: /ours/axum/proof, /ours/layer/proof, /mpp/layer/proof, /mpp/axum/proof
//! ```

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use tokio::runtime::Runtime;
use tower::ServiceExt as _;
use tower_mpp_compare::{Ours, Payer, Theirs, app, proof_credential, spawn_rpc_stub};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, count] = args.as_slice() else {
        panic!("usage: profile PATH COUNT");
    };
    let count: usize = count.parse().expect("a count");
    let (ours, theirs, payer) = (
        Ours::default(),
        Theirs::new(&spawn_rpc_stub()),
        Payer::default(),
    );
    let app = app(&ours, &theirs);
    let request = |_| {
        let credential = proof_credential(&ours, &theirs, &payer, path).expect("a proof route");
        Request::get(path.as_str())
            .header("authorization", credential)
            .body(Body::empty())
            .unwrap()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // The first request makes `mpp` ask the stub for its chain id.
    runtime.block_on(send(&app, request(0)));
    let requests: Vec<_> = (0..count).map(request).collect();
    serve(&runtime, &app, requests);
    println!("{count} paid requests to {path} served");
}

/// What the profile counts: a sync function, as the poll of an `async fn`
/// is inlined into the runtime's `block_on` and has no symbol of its own.
#[inline(never)]
fn serve(runtime: &Runtime, app: &Router, requests: Vec<Request<Body>>) {
    runtime.block_on(async {
        for request in requests {
            send(app, request).await;
        }
    });
}

async fn send(app: &Router, request: Request<Body>) {
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
}
