//! An application that installs its own rustls crypto provider (aws-lc-rs)
//! before using the crate: a `rediss://` store (verified against the
//! authority given) and an `https://` node work with it. One test in its
//! own binary: the provider is process-wide.

#![cfg(all(feature = "tempo", feature = "redis", feature = "rustls"))]

#[path = "support/redis_server.rs"]
mod redis_server;
#[path = "support/tls.rs"]
mod tls;
#[path = "support/tls_paths.rs"]
mod tls_paths;

use std::time::Duration;

use tower_mpp::store::{RedisStore, StoreErrorKind};

#[tokio::test]
async fn an_application_installs_its_provider_first() {
    rustls::crypto::aws_lc_rs::default_provider()
        .install_default()
        .expect("the first provider");
    let servers = tls_paths::Servers::start().await;
    servers.redis_works().await;
    servers.node_works().await;

    // The platform's roots do not know the test authority: refused.
    let error = RedisStore::builder(servers.redis.url())
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), StoreErrorKind::Unavailable);
    // Nor does a plain-text client get an answer from a TLS port.
    let plain = servers.redis.url().replace("rediss://", "redis://");
    let error = RedisStore::builder(plain)
        .connect_timeout(Duration::from_secs(2))
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(
        error.kind(),
        StoreErrorKind::Unavailable | StoreErrorKind::Timeout
    ));
}
