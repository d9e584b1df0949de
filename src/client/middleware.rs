//! [`PaymentMiddleware`]: pays `402`s for every request of a
//! `reqwest_middleware` client (feature `middleware`).

use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next, Result};

use super::error::ClientError;
use super::fetch::{
    Attempt, Step, check_retry, follows_redirects_safely, is_lost_answer, redirect_free, report,
};
use super::provider::PaymentProvider;

/// A `reqwest_middleware::Middleware` that does what
/// [`send_with_payment`](super::PaymentExt::send_with_payment) does, for
/// every request of the client: on `402`, pay one challenge with the
/// provider and retry once. A retry whose challenge names another
/// credential header than `Authorization` goes out on its own, redirects
/// not followed, past the middlewares after this one. Failures are
/// `reqwest_middleware::Error::Middleware` wrapping a
/// [`ClientError`](super::ClientError) (downcast to read it).
///
/// ```no_run
/// # #[cfg(feature = "tempo")]
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use reqwest_middleware::ClientBuilder;
/// use tower_mpp::client::{PaymentMiddleware, PrivateKeySigner, TempoProvider};
///
/// let signer: PrivateKeySigner = std::env::var("PAYER_KEY")?.parse()?;
/// let provider = TempoProvider::new(signer, "https://rpc.tempo.xyz")?;
/// let client = ClientBuilder::new(reqwest::Client::new())
///     .with(PaymentMiddleware::new(provider))
///     .build();
/// let response = client.get("https://api.example.com/paid").send().await?;
/// # let _ = response; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PaymentMiddleware<P> {
    provider: P,
}

impl<P> PaymentMiddleware<P> {
    /// Pays with `provider`.
    pub fn new(provider: P) -> Self {
        Self { provider }
    }

    /// The provider.
    pub fn provider(&self) -> &P {
        &self.provider
    }
}

#[async_trait::async_trait]
impl<P: PaymentProvider + 'static> Middleware for PaymentMiddleware<P> {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> Result<Response> {
        let attempt = Attempt::prepare(&self.provider, &mut request);
        let response = next.clone().run(request, extensions).await?;
        let step = attempt
            .answer(&self.provider, response)
            .await
            .map_err(reqwest_middleware::Error::middleware)?;
        match step {
            Step::Done(response) => Ok(response),
            Step::Retry(retry, credential) => {
                // Sent again once if its answer is lost (see
                // `send_with_payment`).
                if !follows_redirects_safely(&credential) {
                    // The client within would follow a redirect with the
                    // credential (see `send_with_payment`).
                    let answer = match redirect_free().execute(retry).await {
                        Ok(response) => check_retry(response, &credential).await,
                        Err(error) => Err(ClientError::http(error)),
                    };
                    report(&self.provider, &credential, &answer);
                    return answer.map_err(reqwest_middleware::Error::middleware);
                }
                let again = retry.try_clone();
                let response = match (next.clone().run(retry, extensions).await, again) {
                    (Ok(response), _) => response,
                    (Err(reqwest_middleware::Error::Reqwest(error)), Some(again))
                        if is_lost_answer(&error) =>
                    {
                        next.run(again, extensions).await?
                    }
                    (Err(error), _) => return Err(error),
                };
                let answer = check_retry(response, &credential).await;
                report(&self.provider, &credential, &answer);
                answer.map_err(reqwest_middleware::Error::middleware)
            }
        }
    }
}
