//! Choosing which challenge to pay, for every transport: the challenges
//! come in as the server offered them (read from `WWW-Authenticate` on
//! HTTP, from JSON on MCP), each with what the transport needs back (the
//! raw JSON an MCP credential echoes); out goes the first one the provider
//! supports, may pay and did pay, with its credential, or why none was.

use std::time::SystemTime;

use reqwest::Url;

use super::error::{ClientError, PayError};
use super::provider::PaymentProvider;
use crate::protocol::{Challenge, Credential, content_digest};

/// Where the challenges came from: what each must match before it is paid.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Asked<'a> {
    /// The server the caller meant to reach (the URL's host on HTTP, the
    /// name given to the MCP payer): a challenge's realm must name it.
    pub(crate) server: &'a str,
    /// The URL paid for, handed to [`PaymentProvider::pay_for`]; without
    /// one (MCP) the provider's [`PaymentProvider::pay`] pays.
    pub(crate) url: Option<&'a Url>,
    /// The body about to be resent: a challenge that binds a digest must
    /// bind this body's. Without one, digests are not checked.
    pub(crate) body: Option<&'a [u8]>,
}

/// Pays the first of `offers` (in the server's order) that the provider
/// supports and does not refuse; an offer is a challenge with what the
/// caller keeps of it, or why it could not be read.
///
/// A policy refusal is reported as such ([`ClientError::PolicyRefused`])
/// when nothing else stood in the way: the provider could have paid, but
/// the user's limits said no.
pub(crate) async fn choose_and_pay<P, T>(
    provider: &P,
    asked: Asked<'_>,
    offers: impl IntoIterator<Item = Result<(Challenge, T), PayError>>,
) -> Result<(T, Credential), ClientError>
where
    P: PaymentProvider,
{
    let (mut offered, mut refusals) = (Vec::new(), Vec::new());
    let (mut violation, mut other_refusal) = (None, false);
    let now = SystemTime::now();
    for offer in offers {
        let (challenge, kept) = match offer {
            Ok(offer) => offer,
            Err(unreadable) => {
                refusals.push(unreadable);
                continue;
            }
        };
        offered.push(format!("{}/{}", challenge.method, challenge.intent));
        if !provider.supports(&challenge.method, &challenge.intent) {
            continue;
        }
        if let Err(refusal) = check_challenge(&challenge, asked, provider, now) {
            other_refusal = true;
            refusals.push(refusal);
            continue;
        }
        let paid = match asked.url {
            Some(url) => provider.pay_for(&challenge, url).await,
            None => provider.pay(&challenge).await,
        };
        match paid {
            Ok(credential) => return Ok((kept, credential)),
            Err(PayError::Policy(v)) => {
                violation.get_or_insert_with(|| v.clone());
                refusals.push(PayError::Policy(v));
            }
            Err(refusal) if refusal.is_refusal() => {
                other_refusal = true;
                refusals.push(refusal);
            }
            Err(failure) => return Err(ClientError::PaymentFailed(failure)),
        }
    }
    match violation {
        Some(violation) if !other_refusal => Err(ClientError::PolicyRefused(violation)),
        _ => Err(ClientError::NoPayableChallenge { offered, refusals }),
    }
}

/// What a client checks of a challenge before paying it: its realm names
/// the server asked, it has not expired and, when it binds a body digest,
/// the body is that body.
fn check_challenge<P: PaymentProvider>(
    challenge: &Challenge,
    asked: Asked<'_>,
    provider: &P,
    now: SystemTime,
) -> Result<(), PayError> {
    if !provider.accepts_realm(&challenge.realm, asked.server) {
        return Err(PayError::invalid(format!(
            "the challenge's realm {:?} does not name the server asked ({})",
            challenge.realm, asked.server
        )));
    }
    if challenge
        .expires
        .as_ref()
        .is_some_and(|e| e.is_reached(now))
    {
        return Err(PayError::invalid(format!(
            "challenge {} has expired",
            challenge.id
        )));
    }
    if let (Some(digest), Some(body)) = (&challenge.digest, asked.body)
        && *digest != content_digest(body)
    {
        return Err(PayError::invalid(
            "the challenge is bound to another request body",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::protocol::{Base64Json, Timestamp};

    /// Pays anything, in any realm.
    struct Anything;

    impl PaymentProvider for Anything {
        fn supports(&self, _: &str, _: &str) -> bool {
            true
        }

        async fn pay(&self, challenge: &Challenge) -> Result<Credential, PayError> {
            Ok(Credential::new(challenge.clone(), serde_json::Map::new()))
        }
    }

    fn challenge() -> Challenge {
        let request = Base64Json::from_value(serde_json::json!({})).unwrap();
        Challenge::new("id", "realm", "tempo", "charge", request)
    }

    fn asked(body: Option<&[u8]>) -> Asked<'_> {
        Asked {
            server: "realm",
            url: None,
            body,
        }
    }

    #[test]
    fn expired_challenges_are_not_paid() {
        let now = SystemTime::now();
        let soon = challenge().with_expires(Timestamp::after(Duration::from_secs(60)).unwrap());
        let check = |c: &Challenge, at| check_challenge(c, asked(Some(b"")), &Anything, at);
        assert!(check(&soon, now).is_ok());
        assert!(check(&soon, now + Duration::from_secs(61)).is_err());
        assert!(check(&challenge(), now).is_ok());
    }

    #[test]
    fn a_digest_must_be_the_bodys() {
        let now = SystemTime::now();
        let bound = challenge().with_digest(content_digest(b"{\"a\":1}"));
        let check = |body: Option<&[u8]>| check_challenge(&bound, asked(body), &Anything, now);
        assert!(check(Some(b"{\"a\":1}")).is_ok());
        assert!(check(Some(b"{\"a\":2}")).is_err());
        assert!(check(Some(b"")).is_err());
        // No body to compare (MCP): the digest is not the client's to check.
        assert!(check(None).is_ok());
    }

    #[test]
    fn the_realm_must_name_the_server_asked() {
        let now = SystemTime::now();
        let elsewhere = Asked {
            server: "other.example",
            ..asked(None)
        };
        assert!(check_challenge(&challenge(), asked(None), &Anything, now).is_ok());
        assert!(check_challenge(&challenge(), elsewhere, &Anything, now).is_err());
    }
}
