//! The crate's TLS paths, for the tests of an application that installs
//! rustls' process-wide crypto provider itself (before or after using
//! them): a `rediss://` Redis store, and a Tempo method connecting to an
//! `https://` node (a stub answering `eth_chainId`).

// Each user takes what it needs.
#![allow(dead_code)]

use std::time::Duration;

use axum::Json;
use axum::routing::post;
use serde_json::{Value, json};
use tower_mpp::store::{RedisStore, Store, StoreError};
use tower_mpp::tempo::TempoCharge;

use crate::redis_server::RedisServer;
use crate::tls::{TestCa, TlsFiles, TlsProxy};

/// The stub node's chain id.
pub(crate) const CHAIN_ID: u64 = 1337;

/// A Redis speaking only TLS, an `https://` node, and the authority both
/// certificates come from.
pub(crate) struct Servers {
    pub(crate) ca: TestCa,
    pub(crate) redis: RedisServer,
    pub(crate) node: TlsProxy,
    _files: TlsFiles,
}

impl Servers {
    pub(crate) async fn start() -> Self {
        let ca = TestCa::new();
        let files = ca.files();
        let redis = RedisServer::start_tls(&files.cert(), &files.key(), &files.ca());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let plain = format!("http://{}", listener.local_addr().unwrap());
        let node = axum::Router::new().route(
            "/",
            post(|Json(call): Json<Value>| async move {
                Json(
                    json!({"jsonrpc": "2.0", "id": call["id"], "result": format!("{CHAIN_ID:#x}")}),
                )
            }),
        );
        tokio::spawn(async move { axum::serve(listener, node).await });
        let node = TlsProxy::start(&ca, &plain);
        Self {
            ca,
            redis,
            node,
            _files: files,
        }
    }

    /// A `rediss://` store trusting the test authority.
    pub(crate) async fn redis_store(&self) -> Result<RedisStore, StoreError> {
        RedisStore::builder(self.redis.url())
            .root_certificate(self.ca.authority.clone())
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await
    }

    /// The store claims a key once.
    pub(crate) async fn redis_works(&self) {
        let store = self.redis_store().await.expect("a TLS connection");
        assert!(store.claim("k", Duration::from_secs(60)).await.unwrap());
        assert!(!store.claim("k", Duration::from_secs(60)).await.unwrap());
    }

    /// A Tempo charge connects to the `https://` node and reads its chain.
    pub(crate) async fn node_works(&self) {
        TempoCharge::builder()
            .recipient("0x70997970C51812dc3A010C7d01b50e0d17dc79C8")
            .rpc_url(&self.node.url)
            .root_certificate(self.ca.authority.clone())
            .chain_id(CHAIN_ID)
            .connect()
            .await
            .expect("the https node answers");
    }
}
