//! `BodyDigestLayer`: buffers request bodies to bind payments to them.
//!
//! A route that binds its body puts the body's `Content-Digest` in its
//! challenges, and a credential only pays for a request whose body has that
//! digest. The layer reads the body (up to a limit: 413 past it; within a
//! deadline: 408 past it, so a client sending slowly cannot hold the
//! connection and its buffer), inserts
//! [`BodyDigest`] into the request extensions and hands the same bytes on.
//! Put it outside [`PaymentLayer`](super::PaymentLayer) on the routes that
//! bind their body.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http::header::CONTENT_LENGTH;
use http::{Request, Response};
use http_body::Body;
use http_body_util::{BodyExt as _, Limited};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::context::BodyDigest;
use crate::method::{PaymentRejection, RejectionKind};
use crate::protocol::content_digest;

/// The default body limit: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// The default time a whole body may take to arrive: 30 s.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Buffers request bodies up to a limit and records their digest.
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct BodyDigestLayer {
    limit: usize,
    read_timeout: Duration,
}

impl BodyDigestLayer {
    /// Buffers bodies of at most `limit` bytes, read within
    /// [`DEFAULT_BODY_READ_TIMEOUT`].
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            read_timeout: DEFAULT_BODY_READ_TIMEOUT,
        }
    }

    /// The time the whole body may take to arrive, from the request's
    /// head: past it the request is answered `408` (a deadline, not an
    /// idle timeout, so a body trickling one byte at a time is cut off
    /// too). Needs a tokio runtime with its timer.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }
}

impl Default for BodyDigestLayer {
    fn default() -> Self {
        Self::new(DEFAULT_BODY_LIMIT)
    }
}

impl<S> Layer<S> for BodyDigestLayer {
    type Service = BodyDigestService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BodyDigestService {
            inner,
            limit: self.limit,
            read_timeout: self.read_timeout,
        }
    }
}

/// The service of [`BodyDigestLayer`].
#[derive(Debug, Clone)]
pub struct BodyDigestService<S> {
    inner: S,
    limit: usize,
    read_timeout: Duration,
}

type Buffering<B> = Pin<Box<dyn Future<Output = Result<Request<B>, PaymentRejection>> + Send>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for BodyDigestService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ReqBody: Body + From<Bytes> + Send + 'static,
    ReqBody::Data: Send,
    ReqBody::Error: std::error::Error + Send + Sync + 'static,
    ResBody: From<Bytes>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = BodyDigestFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        if request.body().is_end_stream() {
            return BodyDigestFuture::inner(inner.call(request));
        }
        let (limit, read_timeout) = (self.limit, self.read_timeout);
        let declared = request
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > limit as u64) {
            return BodyDigestFuture::rejected(too_large(limit));
        }
        let buffering = Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let reading = tokio::time::timeout(read_timeout, Limited::new(body, limit).collect());
            let Ok(read) = reading.await else {
                return Err(PaymentRejection::new(
                    RejectionKind::BodyTimeout,
                    format!(
                        "The request body did not arrive within {} ms.",
                        read_timeout.as_millis()
                    ),
                ));
            };
            let bytes = match read {
                Ok(collected) => collected.to_bytes(),
                Err(error) if error.is::<http_body_util::LengthLimitError>() => {
                    return Err(too_large(limit));
                }
                Err(error) => {
                    return Err(PaymentRejection::new(
                        RejectionKind::BodyUnreadable,
                        "The request body could not be read.",
                    )
                    .with_source(error));
                }
            };
            parts.extensions.insert(BodyDigest(content_digest(&bytes)));
            Ok(Request::from_parts(parts, ReqBody::from(bytes)))
        });
        BodyDigestFuture {
            state: DigestState::Buffering {
                buffering,
                service: Some(inner),
            },
        }
    }
}

fn too_large(limit: usize) -> PaymentRejection {
    PaymentRejection::new(
        RejectionKind::BodyTooLarge,
        format!(
            "The request body exceeds {limit} bytes, the most this route reads to bind a payment to it."
        ),
    )
}

pin_project! {
    /// Response future of [`BodyDigestService`].
    pub struct BodyDigestFuture<S, B>
    where
        S: Service<Request<B>>,
    {
        #[pin]
        state: DigestState<S, B>,
    }
}

pin_project! {
    #[project = DigestStateProj]
    enum DigestState<S, B>
    where
        S: Service<Request<B>>,
    {
        Buffering {
            buffering: Buffering<B>,
            service: Option<S>,
        },
        Inner {
            #[pin]
            future: S::Future,
        },
        Rejected {
            rejection: Option<PaymentRejection>,
        },
    }
}

impl<S: Service<Request<B>>, B> BodyDigestFuture<S, B> {
    fn inner(future: S::Future) -> Self {
        Self {
            state: DigestState::Inner { future },
        }
    }

    fn rejected(rejection: PaymentRejection) -> Self {
        Self {
            state: DigestState::Rejected {
                rejection: Some(rejection),
            },
        }
    }
}

impl<S, B, ResBody> Future for BodyDigestFuture<S, B>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    ResBody: From<Bytes>,
{
    type Output = Result<Response<ResBody>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                DigestStateProj::Buffering { buffering, service } => {
                    match ready!(buffering.as_mut().poll(cx)) {
                        Ok(request) => {
                            let mut service =
                                service.take().expect("the buffering state is left once");
                            this.state.set(DigestState::Inner {
                                future: service.call(request),
                            });
                        }
                        Err(rejection) => this.state.set(DigestState::Rejected {
                            rejection: Some(rejection),
                        }),
                    }
                }
                DigestStateProj::Inner { future } => return future.poll(cx),
                DigestStateProj::Rejected { rejection } => {
                    let rejection = rejection.take().expect("polled after completion");
                    return Poll::Ready(Ok(rejection.into_http_response().map(ResBody::from)));
                }
            }
        }
    }
}
