//! The paying exchange: send, and on `402` pick a challenge, pay it and
//! retry once with the credential. [`PaymentExt`] runs it for a
//! `reqwest::RequestBuilder`; the middleware runs the same steps.

use std::net::IpAddr;

use http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderName, HeaderValue, StatusCode};
use reqwest::{Request, RequestBuilder, Response, Url};

use super::choose::{self, Asked};
use super::error::{ClientError, PayError};
use super::provider::PaymentProvider;
use crate::protocol::{
    Challenge, Credential, PROBLEM_JSON, ProblemDetails, Receipt, ReceiptError, parse_challenges,
};

/// The `Accept-Payment` header name.
const ACCEPT_PAYMENT: &str = "accept-payment";
/// The `Payment-Receipt` header name.
const PAYMENT_RECEIPT: &str = "payment-receipt";
/// The credential header a newer draft lets a challenge name instead of
/// `Authorization`.
const PAYMENT_AUTHORIZATION: HeaderName = HeaderName::from_static("payment-authorization");
/// The largest problem body read from a rejection.
const MAX_PROBLEM_LEN: usize = 64 * 1024;

/// Adds [`send_with_payment`](Self::send_with_payment) to
/// `reqwest::RequestBuilder`.
pub trait PaymentExt {
    /// Sends the request; if the server answers `402`, pays one of its
    /// challenges with `provider` and retries once with the credential.
    ///
    /// Before paying it checks what the spec asks of clients: the `402`
    /// comes from the origin requested (not from where a redirect led),
    /// the credential would travel over TLS (or to a loopback address),
    /// the challenge has not expired and, when it binds a body digest,
    /// the body about to be resent is that body. The challenges are tried
    /// in the server's order; those the provider refuses (another chain, a
    /// policy limit) are passed over. The request carries an
    /// `Accept-Payment` header built from the provider unless it has one.
    ///
    /// The paid retry carries a fresh `Idempotency-Key` (unless the request
    /// has one). When its answer is lost (a timeout, a connection closed
    /// before the response), it is sent once more with the same credential
    /// and key: that signs nothing more, and a server keeping paid
    /// responses (such as tower-mpp's `IdempotencyLayer`) answers with the
    /// response already paid for.
    ///
    /// Returns the response to the paid retry (or to the first request
    /// when it was not a `402`); [`ReceiptExt::payment_receipt`] reads its
    /// receipt. Any answer to the retry but a `402` is returned as it is:
    /// a `503` with `Retry-After` means the server could not settle yet
    /// (its node was unavailable), not that the credential was refused.
    ///
    /// The credential never follows a redirect to another origin: reqwest
    /// drops `Authorization` on one, and a retry whose challenge names
    /// another header (`Payment-Authorization`) is sent by a client of
    /// reqwest's defaults that follows no redirect (its `3xx` is the
    /// answer).
    ///
    /// # Errors
    ///
    /// [`ClientError`]: the request failed, nothing was payable, the
    /// policy refused, the payment failed, or the server refused the
    /// credential (with its problem details).
    fn send_with_payment<P: PaymentProvider>(
        self,
        provider: &P,
    ) -> impl Future<Output = Result<Response, ClientError>> + Send;
}

impl PaymentExt for RequestBuilder {
    async fn send_with_payment<P: PaymentProvider>(
        self,
        provider: &P,
    ) -> Result<Response, ClientError> {
        let (client, request) = self.build_split();
        let mut request = request.map_err(ClientError::http)?;
        let attempt = Attempt::prepare(provider, &mut request);
        let response = client.execute(request).await.map_err(ClientError::http)?;
        match attempt.answer(provider, response).await? {
            Step::Done(response) => Ok(response),
            Step::Retry(retry, credential) => {
                // Sent again once if its answer is lost: the same
                // credential and Idempotency-Key sign nothing more, and a
                // server keeping responses answers with the paid one.
                let again = retry.try_clone();
                let client = if follows_redirects_safely(&credential) {
                    &client
                } else {
                    redirect_free()
                };
                let response = match (client.execute(retry).await, again) {
                    (Ok(response), _) => response,
                    (Err(error), Some(again)) if is_lost_answer(&error) => {
                        client.execute(again).await.map_err(ClientError::http)?
                    }
                    (Err(error), _) => return Err(ClientError::http(error)),
                };
                let answer = check_retry(response, &credential).await;
                report(provider, &credential, &answer);
                answer
            }
        }
    }
}

/// Reads the `Payment-Receipt` of a response.
pub trait ReceiptExt {
    /// The receipt, if the response has one.
    ///
    /// # Errors
    ///
    /// The inner [`ReceiptError`] when the header is there but unreadable.
    fn payment_receipt(&self) -> Option<Result<Receipt, ReceiptError>>;
}

impl ReceiptExt for Response {
    fn payment_receipt(&self) -> Option<Result<Receipt, ReceiptError>> {
        let value = self.headers().get(PAYMENT_RECEIPT)?;
        Some(match value.to_str() {
            Ok(text) => Receipt::parse(text),
            Err(_) => Receipt::parse("\u{fffd}"),
        })
    }
}

/// What to do after the first response.
pub(crate) enum Step {
    /// Not a `402`: this is the answer.
    Done(Response),
    /// Send this paid request, which carries this credential.
    Retry(Request, Box<Credential>),
}

/// One request on its way: a copy to resend and where it went.
pub(crate) struct Attempt {
    replay: Option<Request>,
    requested: Url,
}

impl Attempt {
    /// Adds `Accept-Payment` to `request` and keeps a copy to resend.
    pub(crate) fn prepare<P: PaymentProvider>(provider: &P, request: &mut Request) -> Self {
        if !request.headers().contains_key(ACCEPT_PAYMENT)
            && let Some(value) = accept_payment(provider)
        {
            request.headers_mut().insert(ACCEPT_PAYMENT, value);
        }
        // A body given as bytes clones exactly; a stream does not clone.
        Self {
            replay: request.try_clone(),
            requested: request.url().clone(),
        }
    }

    /// The step after `response`: done, or a paid retry.
    pub(crate) async fn answer<P: PaymentProvider>(
        self,
        provider: &P,
        response: Response,
    ) -> Result<Step, ClientError> {
        if response.status() != StatusCode::PAYMENT_REQUIRED {
            return Ok(Step::Done(response));
        }
        if response.url().origin() != self.requested.origin() {
            return Err(ClientError::CrossOriginRedirect {
                requested: self.requested.to_string(),
                answered: response.url().to_string(),
            });
        }
        let Some(mut retry) = self.replay else {
            return Err(ClientError::BodyNotReplayable);
        };
        if !is_secure(&self.requested) {
            return Err(ClientError::InsecureTransport(self.requested.to_string()));
        }
        let body = retry
            .body()
            .and_then(reqwest::Body::as_bytes)
            .unwrap_or_default();
        let host = self.requested.host_str().unwrap_or_default();
        let credential = choose_and_pay(provider, &response, body, host, &self.requested).await?;
        let header = credential
            .to_header()
            .ok()
            .and_then(|h| HeaderValue::from_str(&h).ok())
            .ok_or_else(|| {
                ClientError::PaymentFailed(PayError::failed("the credential cannot be encoded"))
            })?;
        let headers = retry.headers_mut();
        headers.insert(credential_header(&credential.challenge), header);
        if !headers.contains_key(IDEMPOTENCY_KEY) {
            headers.insert(IDEMPOTENCY_KEY, idempotency_key()?);
        }
        Ok(Step::Retry(retry, Box::new(credential)))
    }
}

/// The header naming a paid request for its retries.
const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// A fresh `Idempotency-Key`: 128 random bits, base64url.
fn idempotency_key() -> Result<HeaderValue, ClientError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| {
        ClientError::PaymentFailed(PayError::failed(format!("no randomness for a key: {e}")))
    })?;
    HeaderValue::from_str(&crate::protocol::base64url::encode(bytes)).map_err(|_| {
        ClientError::PaymentFailed(PayError::failed("an Idempotency-Key cannot be encoded"))
    })
}

/// Whether a paid request's error may have lost an answer the server
/// sent (a timeout, a connection closed mid-answer), rather than a request
/// that could not be made at all.
pub(crate) fn is_lost_answer(error: &reqwest::Error) -> bool {
    !error.is_builder() && !error.is_redirect() && !error.is_connect()
}

/// Where the credential for `challenge` goes: `Payment-Authorization` when
/// the challenge names it, else `Authorization`. No other name is honoured,
/// so a server cannot have a credential sent in a header meant for someone
/// else (`Proxy-Authorization`, `Cookie`).
fn credential_header(challenge: &Challenge) -> HeaderName {
    match challenge.header.as_deref() {
        Some(name) if name.eq_ignore_ascii_case(PAYMENT_AUTHORIZATION.as_str()) => {
            PAYMENT_AUTHORIZATION
        }
        _ => AUTHORIZATION,
    }
}

/// Whether the paid retry carrying `credential` may follow the client's
/// redirects: only when the credential is in `Authorization`, which
/// reqwest drops on a redirect to another origin (it keeps any other
/// header, `Payment-Authorization` included).
pub(crate) fn follows_redirects_safely(credential: &Credential) -> bool {
    credential_header(&credential.challenge) == AUTHORIZATION
}

/// The client of paid retries whose credential is in another header than
/// `Authorization`: it follows no redirect (a `3xx` is the answer), so
/// the credential reaches only the origin that asked for it. It has
/// reqwest's defaults, not the caller's client's settings.
pub(crate) fn redirect_free() -> &'static reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default()
    })
}

/// Tells `provider` how the server answered `credential`: accepted (a
/// success, with its receipt) or refused (`402`, `410`). Other answers (a
/// `503`, say) say nothing of the payment.
pub(crate) fn report<P: PaymentProvider>(
    provider: &P,
    credential: &Credential,
    answer: &Result<Response, ClientError>,
) {
    match answer {
        Ok(response) if response.status().is_success() => {
            let receipt = response.payment_receipt().and_then(Result::ok);
            provider.accepted(credential, receipt.as_ref());
        }
        Ok(response) if response.status() == StatusCode::GONE => {
            provider.refused(credential, StatusCode::GONE, None);
        }
        Err(ClientError::Rejected { status, problem }) => {
            provider.refused(credential, *status, problem.as_deref());
        }
        _ => {}
    }
}

/// The credential a response was paid with, in the response's extensions:
/// a metered stream answers need-vouchers only for the channel that paid
/// it.
#[derive(Debug, Clone)]
#[cfg_attr(not(feature = "tempo"), allow(dead_code))] // read by the session client
pub(crate) struct PaidWith(pub(crate) Credential);

/// The answer to the paid retry: a `402` means the credential was refused.
/// Another answer carries the credential in its extensions ([`PaidWith`]).
pub(crate) async fn check_retry(
    mut response: Response,
    credential: &Credential,
) -> Result<Response, ClientError> {
    if response.status() != StatusCode::PAYMENT_REQUIRED {
        response
            .extensions_mut()
            .insert(PaidWith(credential.clone()));
        return Ok(response);
    }
    let status = response.status();
    let problem = read_problem(response).await?.map(Box::new);
    Err(ClientError::Rejected { status, problem })
}

/// The problem details of a refusal, when its body is a problem of
/// reasonable size.
pub(crate) async fn read_problem(
    response: Response,
) -> Result<Option<ProblemDetails>, ClientError> {
    let is_problem = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON));
    if !is_problem || response.content_length().unwrap_or(0) > MAX_PROBLEM_LEN as u64 {
        return Ok(None);
    }
    let body = response.bytes().await.map_err(ClientError::http)?;
    Ok(serde_json::from_slice(&body).ok())
}

/// Pays the first challenge of `response` that `provider` supports and
/// does not refuse: its realm names `host`, and a body digest it binds is
/// the digest of `body`.
async fn choose_and_pay<P: PaymentProvider>(
    provider: &P,
    response: &Response,
    body: &[u8],
    host: &str,
    url: &Url,
) -> Result<Credential, ClientError> {
    // Unreadable headers first, then the challenges in the server's order.
    let mut unreadable = Vec::new();
    let mut candidates = Vec::new();
    for value in response.headers().get_all(WWW_AUTHENTICATE) {
        let parsed = value
            .to_str()
            .map_err(|_| "not ASCII".to_owned())
            .and_then(|v| parse_challenges([v]).map_err(|e| e.to_string()));
        match parsed {
            Ok(challenges) => candidates.extend(challenges),
            Err(why) => unreadable.push(PayError::invalid(format!("unreadable challenge: {why}"))),
        }
    }
    let asked = Asked {
        server: host,
        url: Some(url),
        body: Some(body),
    };
    let offers = unreadable
        .into_iter()
        .map(Err)
        .chain(candidates.into_iter().map(|c| Ok((c, ()))));
    let ((), credential) = choose::choose_and_pay(provider, asked, offers).await?;
    Ok(credential)
}

/// `Accept-Payment` from what the provider advertises.
fn accept_payment<P: PaymentProvider>(provider: &P) -> Option<HeaderValue> {
    let ranges: Vec<String> = provider
        .accepts()
        .into_iter()
        .map(|(method, intent)| format!("{method}/{intent}"))
        .collect();
    if ranges.is_empty() {
        return None;
    }
    HeaderValue::from_str(&ranges.join(", ")).ok()
}

/// TLS, or a loopback host (a server on the same machine).
pub(crate) fn is_secure(url: &Url) -> bool {
    if url.scheme() == "https" {
        return true;
    }
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Base64Json;

    fn challenge() -> Challenge {
        let request = Base64Json::from_value(serde_json::json!({})).unwrap();
        Challenge::new("id", "realm", "tempo", "charge", request)
    }

    #[test]
    fn the_credential_goes_where_the_challenge_says_within_two_names() {
        let mut named = challenge();
        assert_eq!(credential_header(&named), AUTHORIZATION);
        for (asked, sent) in [
            ("Payment-Authorization", PAYMENT_AUTHORIZATION),
            ("payment-authorization", PAYMENT_AUTHORIZATION),
            ("Authorization", AUTHORIZATION),
            ("Proxy-Authorization", AUTHORIZATION),
            ("Cookie", AUTHORIZATION),
        ] {
            named.header = Some(asked.to_owned());
            assert_eq!(credential_header(&named), sent, "{asked}");
        }
    }

    #[test]
    fn accept_payment_lists_what_the_providers_advertise() {
        struct Quiet;
        impl PaymentProvider for Quiet {
            fn supports(&self, _: &str, _: &str) -> bool {
                true
            }
            async fn pay(&self, _: &Challenge) -> Result<Credential, PayError> {
                Err(PayError::invalid("quiet"))
            }
        }
        assert_eq!(accept_payment(&Quiet), None);
        let multi = crate::client::MultiProvider::new().with(Quiet);
        assert_eq!(accept_payment(&multi), None);
    }

    #[test]
    fn only_tls_and_loopback_are_secure() {
        for (url, secure) in [
            ("https://api.example.com/x", true),
            ("http://127.0.0.1:8080/x", true),
            ("http://127.8.0.1/x", true),
            ("http://[::1]:80/x", true),
            ("http://localhost/x", true),
            ("http://api.example.com/x", false),
            ("http://10.0.0.1/x", false),
            ("http://localhost.example.com/x", false),
        ] {
            assert_eq!(is_secure(&url.parse().unwrap()), secure, "{url}");
        }
    }
}
