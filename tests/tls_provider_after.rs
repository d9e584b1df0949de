//! An application that installs its own rustls crypto provider (aws-lc-rs)
//! after using the crate's TLS: nothing was installed behind its back, so
//! its installation succeeds. Until then a `rediss://` store says what is
//! missing. One test in its own binary: the provider is process-wide.

#![cfg(all(feature = "tempo", feature = "redis", feature = "rustls"))]

#[path = "support/redis_server.rs"]
mod redis_server;
#[path = "support/tls.rs"]
mod tls;
#[path = "support/tls_paths.rs"]
mod tls_paths;

use rustls::crypto::CryptoProvider;
use tower_mpp::store::StoreErrorKind;

#[tokio::test]
async fn an_application_installs_its_provider_after_using_the_crate() {
    let servers = tls_paths::Servers::start().await;
    servers.node_works().await;
    let error = servers.redis_store().await.unwrap_err();
    assert_eq!(error.kind(), StoreErrorKind::InvalidConfig);
    let why = std::error::Error::source(&error).unwrap().to_string();
    assert!(why.contains("install_default"), "{why}");
    assert!(
        CryptoProvider::get_default().is_none(),
        "the crate installed no provider"
    );

    rustls::crypto::aws_lc_rs::default_provider()
        .install_default()
        .expect("the application's provider is the first");

    servers.redis_works().await;
    servers.node_works().await;
}
