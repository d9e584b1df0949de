//! The HTTP clients this crate makes itself: JSON-RPC to a Tempo node (on
//! the server and in the paying client) and a session's closes on drop.
//!
//! TLS comes from the crate's features: `rustls` (the default) or
//! `native-tls`; each client makes its own configuration, so nothing
//! process-wide is installed. The builders' `root_certificate` adds
//! authorities to the platform's roots; they come in here as PEM and leave
//! as a `reqwest::Client`.

use std::fmt;

/// Authorities trusted besides the platform's roots, as PEM.
#[derive(Clone, Default)]
pub(crate) struct ExtraRoots(Vec<Vec<u8>>);

impl ExtraRoots {
    /// Adds the certificates in `pem` (checked when a client is made).
    pub(crate) fn push(&mut self, pem: Vec<u8>) {
        self.0.push(pem);
    }

    /// An HTTP client trusting the platform's roots and these.
    ///
    /// # Errors
    ///
    /// [`TlsSetupError`] when a PEM holds no certificate, or the HTTP
    /// client cannot be made (no TLS in this build and extra roots given,
    /// or the platform's roots cannot be read).
    pub(crate) fn client(&self) -> Result<reqwest::Client, TlsSetupError> {
        let builder = reqwest::Client::builder();
        // With both features, rustls (the default) is the one tested.
        #[cfg(feature = "rustls")]
        let builder = builder.tls_backend_rustls();
        #[cfg(all(feature = "native-tls", not(feature = "rustls")))]
        let builder = builder.tls_backend_native();
        let builder = self.add_to(builder)?;
        builder.build().map_err(TlsSetupError::Client)
    }

    #[cfg(any(feature = "rustls", feature = "native-tls"))]
    fn add_to(
        &self,
        mut builder: reqwest::ClientBuilder,
    ) -> Result<reqwest::ClientBuilder, TlsSetupError> {
        for pem in &self.0 {
            let certificates =
                reqwest::Certificate::from_pem_bundle(pem).map_err(TlsSetupError::Client)?;
            if certificates.is_empty() {
                return Err(TlsSetupError::NoCertificate);
            }
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        Ok(builder)
    }

    #[cfg(not(any(feature = "rustls", feature = "native-tls")))]
    fn add_to(
        &self,
        builder: reqwest::ClientBuilder,
    ) -> Result<reqwest::ClientBuilder, TlsSetupError> {
        if self.0.is_empty() {
            Ok(builder)
        } else {
            Err(TlsSetupError::NoTls)
        }
    }
}

/// The crate's default HTTP client: the TLS backend the features pick
/// (rustls when both are on), the platform's roots.
#[cfg(all(feature = "client", feature = "tempo"))]
pub(crate) fn default_client() -> reqwest::Client {
    // Without extra roots, the only failure is reqwest's own, which its
    // `Client::new` would meet too (and panic).
    ExtraRoots::default()
        .client()
        .unwrap_or_else(|_| reqwest::Client::new())
}

impl fmt::Debug for ExtraRoots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ExtraRoots({})", self.0.len())
    }
}

/// Whether this build speaks TLS (the `rustls` or `native-tls` feature).
pub(crate) const HAS_TLS: bool = cfg!(any(feature = "rustls", feature = "native-tls"));

/// Why an HTTP client could not be made.
#[derive(Debug)]
pub(crate) enum TlsSetupError {
    /// A root certificate's PEM holds no certificate.
    #[cfg_attr(not(any(feature = "rustls", feature = "native-tls")), allow(dead_code))]
    NoCertificate,
    /// Root certificates were given to a build without TLS.
    #[cfg_attr(any(feature = "rustls", feature = "native-tls"), allow(dead_code))]
    NoTls,
    /// The HTTP client refused its configuration.
    Client(reqwest::Error),
}

impl fmt::Display for TlsSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoCertificate => f.write_str("the root certificate's PEM holds no certificate"),
            Self::NoTls => f.write_str(
                "root certificates given, but this build has no TLS \
                 (enable the `rustls` or `native-tls` feature)",
            ),
            Self::Client(error) => write!(f, "the HTTP client cannot be made: {}", causes(error)),
        }
    }
}

impl std::error::Error for TlsSetupError {}

/// `error` and its sources, each once, joined by `: ` (an HTTP client's
/// error says "error sending request"; its sources say it was a TLS
/// failure, and which).
pub(crate) fn causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut last = text.clone();
    let mut source = error.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !last.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        last = line;
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pem_without_a_certificate_is_refused() {
        let mut roots = ExtraRoots::default();
        roots.push(b"not a certificate".to_vec());
        assert!(roots.client().is_err());
        assert!(ExtraRoots::default().client().is_ok());
    }

    #[test]
    fn causes_are_listed_once_each() {
        let inner = std::io::Error::other("invalid peer certificate: UnknownIssuer");
        let outer = std::io::Error::new(std::io::ErrorKind::ConnectionAborted, inner);
        assert_eq!(
            causes(&outer),
            "invalid peer certificate: UnknownIssuer",
            "an error that prints its source is not repeated"
        );
    }
}
