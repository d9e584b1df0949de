//! What can go wrong when paying: a provider's [`PayError`], a policy's
//! [`PolicyViolation`] and the whole exchange's [`ClientError`].

use std::error::Error as StdError;
use std::fmt;

use http::StatusCode;

use crate::protocol::ProblemDetails;

type BoxError = Box<dyn StdError + Send + Sync>;

/// Why a [`PaymentProvider`](super::PaymentProvider) did not produce a
/// credential. Nothing was signed or sent when `pay` returns one of these,
/// except where a variant says otherwise.
#[derive(Debug)]
#[non_exhaustive]
pub enum PayError {
    /// The provider does not pay this method and intent.
    Unsupported {
        /// The challenge's method.
        method: String,
        /// The challenge's intent.
        intent: String,
    },
    /// The challenge cannot be paid as it stands: its `request` is
    /// malformed, names another chain, asks for a mode the provider does
    /// not use, has expired...
    InvalidChallenge(String),
    /// A spending policy refused the payment before anything was signed.
    Policy(PolicyViolation),
    /// The provider could not reach what it pays through (an RPC node, a
    /// payment API); trying later may succeed.
    Unavailable(BoxError),
    /// Paying failed: signing, or the network refused the payment. For a
    /// push payment, the transaction may have reached the chain: the error
    /// says so when it knows.
    Failed(BoxError),
}

impl PayError {
    /// An [`Unsupported`](Self::Unsupported) error naming `challenge`'s
    /// method and intent.
    pub fn unsupported(challenge: &crate::protocol::Challenge) -> Self {
        Self::Unsupported {
            method: challenge.method.clone(),
            intent: challenge.intent.clone(),
        }
    }

    /// An [`InvalidChallenge`](Self::InvalidChallenge) error.
    pub fn invalid(why: impl Into<String>) -> Self {
        Self::InvalidChallenge(why.into())
    }

    /// An [`Unavailable`](Self::Unavailable) error.
    pub fn unavailable(source: impl Into<BoxError>) -> Self {
        Self::Unavailable(source.into())
    }

    /// A [`Failed`](Self::Failed) error.
    pub fn failed(source: impl Into<BoxError>) -> Self {
        Self::Failed(source.into())
    }

    /// Whether another challenge of the same response may still be paid:
    /// the provider refused this one without trying to pay it.
    pub(crate) fn is_refusal(&self) -> bool {
        matches!(
            self,
            Self::Unsupported { .. } | Self::InvalidChallenge(_) | Self::Policy(_)
        )
    }
}

impl fmt::Display for PayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unsupported { method, intent } => {
                write!(f, "no provider pays {method}/{intent}")
            }
            Self::InvalidChallenge(why) => write!(f, "the challenge cannot be paid: {why}"),
            Self::Policy(violation) => write!(f, "the spending policy refused: {violation}"),
            Self::Unavailable(why) => write!(f, "the payment network is unavailable: {why}"),
            Self::Failed(why) => write!(f, "the payment failed: {why}"),
        }
    }
}

impl StdError for PayError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Policy(violation) => Some(violation),
            Self::Unavailable(source) | Self::Failed(source) => Some(source.as_ref()),
            Self::Unsupported { .. } | Self::InvalidChallenge(_) => None,
        }
    }
}

impl From<PolicyViolation> for PayError {
    fn from(violation: PolicyViolation) -> Self {
        Self::Policy(violation)
    }
}

/// The rule of a [`SpendingPolicy`](super::SpendingPolicy) a payment broke.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyViolation {
    /// The policy prices only the charge intent.
    Intent(String),
    /// The request has no readable `amount` or `currency`.
    Unpriced(String),
    /// The currency is not allowed.
    Currency(String),
    /// The recipient is not allowed (or the request names none while the
    /// policy lists recipients).
    Recipient(Option<String>),
    /// The chain is not allowed (or the request names none while the
    /// policy lists chains).
    ChainId(Option<u64>),
    /// The amount is above the per-request maximum.
    PerRequest {
        /// The currency.
        currency: String,
        /// The amount asked, in base units.
        amount: u128,
        /// The maximum, in base units.
        max: u128,
    },
    /// Paying would take the total spent above the maximum.
    Total {
        /// The currency.
        currency: String,
        /// The amount asked, in base units.
        amount: u128,
        /// Already spent (or being spent) in this currency, in base units.
        spent: u128,
        /// The maximum total, in base units.
        max: u128,
    },
    /// The deposits of session channels (opens and top-ups) would pass
    /// the policy's total: money locked in an escrow counts, whether or
    /// not it is spent later.
    Deposits {
        /// The currency.
        currency: String,
        /// The deposit asked, in base units.
        amount: u128,
        /// Already deposited in this currency under the policy, in base units.
        deposited: u128,
        /// The maximum total, in base units.
        max: u128,
    },
    /// A session channel's deposit (with its top-ups) would pass the
    /// provider's maximum per channel.
    Deposit {
        /// The deposit the channel would hold, in base units.
        deposit: u128,
        /// The maximum, in base units.
        max: u128,
    },
}

impl fmt::Display for PolicyViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Intent(intent) => write!(f, "intent {intent:?} is not a charge"),
            Self::Unpriced(why) => write!(f, "the request has no price: {why}"),
            Self::Currency(currency) => write!(f, "currency {currency} is not allowed"),
            Self::Recipient(Some(recipient)) => write!(f, "recipient {recipient} is not allowed"),
            Self::Recipient(None) => f.write_str("the request names no recipient"),
            Self::ChainId(Some(id)) => write!(f, "chain {id} is not allowed"),
            Self::ChainId(None) => f.write_str("the request names no chain"),
            Self::PerRequest {
                currency,
                amount,
                max,
            } => write!(
                f,
                "{amount} base units of {currency} is above the maximum of {max} per request"
            ),
            Self::Total {
                currency,
                amount,
                spent,
                max,
            } => write!(
                f,
                "{amount} more base units of {currency} would pass the total of {max} \
                 ({spent} already spent)"
            ),
            Self::Deposits {
                currency,
                amount,
                deposited,
                max,
            } => write!(
                f,
                "a deposit of {amount} base units of {currency} would pass the total of {max} \
                 ({deposited} already deposited)"
            ),
            Self::Deposit { deposit, max } => write!(
                f,
                "a channel deposit of {deposit} base units is above the maximum of {max}"
            ),
        }
    }
}

impl StdError for PolicyViolation {}

/// Why `send_with_payment` (or the middleware) did not return a response.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientError {
    /// Sending a request failed (connection, timeout, a bad URL...).
    Http(BoxError),
    /// The `402` offered nothing the provider can pay. `offered` lists the
    /// `method/intent` of each challenge; `refusals` why each candidate
    /// was passed over.
    NoPayableChallenge {
        /// The `method/intent` pairs the server offered.
        offered: Vec<String>,
        /// Why each challenge the provider supports was not paid.
        refusals: Vec<PayError>,
    },
    /// The spending policy refused every challenge the provider supports.
    PolicyRefused(PolicyViolation),
    /// The provider tried to pay and failed.
    PaymentFailed(PayError),
    /// The server did not accept the credential: its status and problem
    /// details (`None` when the body was not `application/problem+json`).
    Rejected {
        /// The status of the answer to the paid retry.
        status: StatusCode,
        /// The problem details, when the server sent them.
        problem: Option<Box<ProblemDetails>>,
    },
    /// The `402` came from another origin than the one requested (after a
    /// redirect): the client does not pay a server it did not ask.
    CrossOriginRedirect {
        /// The URL requested.
        requested: String,
        /// The URL that answered `402`.
        answered: String,
    },
    /// The request goes over plain HTTP to a host that is not loopback: a
    /// credential is a bearer token and is sent only over TLS.
    InsecureTransport(String),
    /// The `402` asks for a payment but the request's body is a stream that
    /// cannot be sent twice. Nothing was paid.
    BodyNotReplayable,
    /// A metered stream asked for a voucher on another channel than the
    /// one its request paid with (channel ids are public: a server could
    /// name a channel the client has with someone else). Nothing was
    /// signed; the stream ends.
    ForeignChannel {
        /// The channel the stream asked for.
        asked: String,
        /// The channel its request paid with, if the client knows it.
        paid_with: Option<String>,
    },
}

impl ClientError {
    pub(crate) fn http(source: impl Into<BoxError>) -> Self {
        Self::Http(source.into())
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Http(why) => write!(f, "the request failed: {why}"),
            Self::NoPayableChallenge { offered, refusals } => {
                write!(f, "no payable challenge among [{}]", offered.join(", "))?;
                for refusal in refusals {
                    write!(f, "; {refusal}")?;
                }
                Ok(())
            }
            Self::PolicyRefused(violation) => write!(f, "the spending policy refused: {violation}"),
            Self::PaymentFailed(why) => write!(f, "{why}"),
            Self::Rejected { status, problem } => {
                write!(f, "the server refused the payment ({status})")?;
                if let Some(problem) = problem {
                    write!(f, ": {}", problem.title)?;
                    if let Some(detail) = &problem.detail {
                        write!(f, ": {detail}")?;
                    }
                }
                Ok(())
            }
            Self::CrossOriginRedirect {
                requested,
                answered,
            } => write!(
                f,
                "{requested} redirected to {answered}, another origin, which asked for payment"
            ),
            Self::InsecureTransport(url) => {
                write!(f, "{url} is plain HTTP: credentials are only sent over TLS")
            }
            Self::BodyNotReplayable => f.write_str(
                "payment required, but the request body is a stream that cannot be resent",
            ),
            Self::ForeignChannel { asked, paid_with } => {
                write!(f, "the stream asked for a voucher on channel {asked}, ")?;
                match paid_with {
                    Some(paid) => write!(f, "but its request paid with channel {paid}"),
                    None => f.write_str("but its request paid with no channel the client knows"),
                }
            }
        }
    }
}

impl StdError for ClientError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Http(source) => Some(source.as_ref()),
            Self::PolicyRefused(violation) => Some(violation),
            Self::PaymentFailed(why) => Some(why),
            _ => None,
        }
    }
}
