//! Real TLS on loopback, made at run time: a certificate authority and a
//! server certificate for 127.0.0.1 and localhost (rcgen), and a
//! TLS-terminating proxy (rustls) that puts `https://` in front of any
//! plain loopback server: anvil, an axum app. Nothing process-wide: the
//! proxy's rustls configuration carries its own crypto provider.

// Each user takes what it needs.
#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::sync::oneshot;

/// A certificate authority and a server certificate it signed.
pub(crate) struct TestCa {
    /// The authority's certificate: what clients are told to trust.
    pub(crate) authority: String,
    /// The server's certificate (for 127.0.0.1 and localhost).
    pub(crate) certificate: String,
    /// The server's private key.
    pub(crate) key: String,
}

impl TestCa {
    /// A fresh authority and server certificate.
    pub(crate) fn new() -> Self {
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "tower-mpp test authority");
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate().unwrap();
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);

        let server = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
        let server_key = KeyPair::generate().unwrap();
        let server_cert = server.signed_by(&server_key, &issuer).unwrap();
        Self {
            authority: ca_cert.pem(),
            certificate: server_cert.pem(),
            key: server_key.serialize_pem(),
        }
    }

    /// A rustls server configuration presenting the server certificate,
    /// with its own (aws-lc-rs) provider.
    pub(crate) fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let chain = vec![CertificateDer::from_pem_slice(self.certificate.as_bytes()).unwrap()];
        let key = PrivateKeyDer::from_pem_slice(self.key.as_bytes()).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        Arc::new(config)
    }

    /// The certificate, key and authority as files (for redis-server),
    /// removed when the returned value is dropped.
    pub(crate) fn files(&self) -> TlsFiles {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tower-mpp-tls-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let files = TlsFiles { dir };
        std::fs::write(files.cert(), &self.certificate).unwrap();
        std::fs::write(files.key(), &self.key).unwrap();
        std::fs::write(files.ca(), &self.authority).unwrap();
        files
    }
}

/// A directory holding `server.pem`, `server.key` and `ca.pem`.
pub(crate) struct TlsFiles {
    dir: PathBuf,
}

impl TlsFiles {
    pub(crate) fn cert(&self) -> PathBuf {
        self.dir.join("server.pem")
    }
    pub(crate) fn key(&self) -> PathBuf {
        self.dir.join("server.key")
    }
    pub(crate) fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
}

impl Drop for TlsFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An `https://` front for a plain loopback server, on a thread and a
/// runtime of its own (so it serves whatever runtime the test uses, and
/// while a test's thread blocks); stopped when dropped.
pub(crate) struct TlsProxy {
    /// `https://127.0.0.1:<port>`.
    pub(crate) url: String,
    handshakes: Arc<AtomicUsize>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TlsProxy {
    /// Serves `ca`'s server certificate and forwards each connection to
    /// `upstream` (`http://127.0.0.1:<port>`, a path is ignored).
    pub(crate) fn start(ca: &TestCa, upstream: &str) -> Self {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap()
            .parse()
            .expect("a loopback upstream");
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("https://{}", listener.local_addr().unwrap());
        let acceptor = tokio_rustls::TlsAcceptor::from(ca.server_config());
        let handshakes = Arc::new(AtomicUsize::new(0));
        let counted = handshakes.clone();
        let (stop, stopped) = oneshot::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let accepting = async {
                    loop {
                        let Ok((tcp, _)) = listener.accept().await else {
                            continue;
                        };
                        let (acceptor, counted) = (acceptor.clone(), counted.clone());
                        tokio::spawn(async move {
                            // A client that refuses the certificate ends
                            // here: nothing to forward.
                            let Ok(mut tls) = acceptor.accept(tcp).await else {
                                return;
                            };
                            counted.fetch_add(1, Ordering::SeqCst);
                            let Ok(mut plain) = tokio::net::TcpStream::connect(upstream).await
                            else {
                                return;
                            };
                            let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                        });
                    }
                };
                tokio::select! {
                    () = accepting => {}
                    _ = stopped => {}
                }
            });
        });
        Self {
            url,
            handshakes,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// How many TLS handshakes succeeded.
    pub(crate) fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::SeqCst)
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
