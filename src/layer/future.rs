//! The response future of [`PaymentService`](super::PaymentService).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::header::{CACHE_CONTROL, HeaderValue};
use http::{HeaderMap, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::context::{PaidResponse, PaymentContext};
use crate::method::{PaymentRejection, RefundCandidate};

/// The `Payment-Receipt` header name.
pub const PAYMENT_RECEIPT: &str = "payment-receipt";

type Verification = Pin<Box<dyn Future<Output = Result<Verified, PaymentRejection>> + Send>>;

/// How a request's verification before the inner service ended.
pub(crate) enum Verified {
    /// Paid: the inner service runs.
    Proceed,
    /// Answered by the layer itself (a management request's receipt).
    Answered(Response<Bytes>),
}

pin_project! {
    /// Response future of [`PaymentService`](super::PaymentService).
    pub struct ResponseFuture<S, Req>
    where
        S: Service<Req>,
    {
        #[pin]
        state: State<S, Req>,
        // The request's context: whether it was paid, and for what.
        outcome: Option<PaymentContext>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, Req>
    where
        S: Service<Req>,
    {
        Verifying {
            verification: Verification,
            service: Option<S>,
            request: Option<Req>,
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

impl<S: Service<Req>, Req> ResponseFuture<S, Req> {
    pub(crate) fn inner(future: S::Future, context: &PaymentContext) -> Self {
        Self {
            state: State::Inner { future },
            outcome: Some(context.clone()),
        }
    }

    pub(crate) fn verifying(
        verification: Verification,
        service: S,
        request: Req,
        context: &PaymentContext,
    ) -> Self {
        Self {
            state: State::Verifying {
                verification,
                service: Some(service),
                request: Some(request),
            },
            outcome: Some(context.clone()),
        }
    }

    pub(crate) fn rejected(rejection: PaymentRejection) -> Self {
        Self {
            state: State::Rejected {
                rejection: Some(rejection),
            },
            outcome: None,
        }
    }
}

impl<S, Req, ResBody> Future for ResponseFuture<S, Req>
where
    S: Service<Req, Response = Response<ResBody>>,
    ResBody: From<Bytes>,
{
    type Output = Result<Response<ResBody>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Verifying {
                    verification,
                    service,
                    request,
                } => match ready!(verification.as_mut().poll(cx)) {
                    Ok(Verified::Answered(response)) => {
                        return Poll::Ready(Ok(response.map(ResBody::from)));
                    }
                    Ok(Verified::Proceed) => {
                        let (Some(mut service), Some(request)) = (service.take(), request.take())
                        else {
                            unreachable!("the verifying state is left once");
                        };
                        let future = service.call(request);
                        this.state.set(State::Inner { future });
                    }
                    Err(rejection) => {
                        this.state.set(State::Rejected {
                            rejection: Some(rejection),
                        });
                    }
                },
                StateProj::Inner { future } => {
                    let mut response = ready!(future.poll(cx))?;
                    if let Some(outcome) = this.outcome.take() {
                        finish(&outcome, &mut response);
                    }
                    return Poll::Ready(Ok(response));
                }
                StateProj::Rejected { rejection } => {
                    let rejection = rejection.take().expect("polled after completion");
                    return Poll::Ready(Ok(rejection.into_http_response().map(ResBody::from)));
                }
            }
        }
    }
}

/// Attaches the receipt to a 2xx response of a paid request; reports any
/// other outcome of a paid request as a refund candidate.
fn finish<B>(context: &PaymentContext, response: &mut Response<B>) {
    let Some(settled) = context.settled() else {
        return;
    };
    if response.status().is_success() {
        let headers = response.headers_mut();
        headers.insert(PAYMENT_RECEIPT, settled.header.clone());
        make_private(headers);
        if settled.debited {
            response.extensions_mut().insert(PaidResponse {
                receipt: settled.receipt.clone(),
            });
        }
    } else {
        context
            .payments()
            .inner
            .hooks
            .refund_candidate(&RefundCandidate {
                scope: context.scope(),
                receipt: &settled.receipt,
                status: response.status(),
            });
    }
}

/// `Cache-Control` gains `private` (and loses `public`): a response with a
/// receipt must not be stored by a shared cache.
fn make_private(headers: &mut HeaderMap) {
    let mut directives: Vec<String> = headers
        .get_all(CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty() && !d.eq_ignore_ascii_case("public"))
        .collect();
    if !directives.iter().any(|d| d.eq_ignore_ascii_case("private")) {
        directives.push("private".to_owned());
    }
    if let Ok(value) = HeaderValue::from_str(&directives.join(", ")) {
        headers.insert(CACHE_CONTROL, value);
    } else {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("private"));
    }
}
