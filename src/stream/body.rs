//! [`MeteredBody`]: the body of a metered stream, one SSE event per frame.

use std::convert::Infallible;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use http_body::{Body, Frame, SizeHint};

use super::pace::{Config, Pace};
use super::run::Run;
use crate::method::Meter;

type Events = Pin<Box<dyn Stream<Item = Bytes> + Send>>;

/// The body of a [`MeteredSse`](super::MeteredSse) response: pulls an
/// item from the handler's stream only when the client reads and the
/// funds were debited ahead for it, and sends it as one event.
pub struct MeteredBody {
    events: Events,
}

impl MeteredBody {
    pub(super) fn new<S, F>(
        items: S,
        units: F,
        meter: Arc<dyn Meter>,
        config: Config,
        funds: String,
    ) -> Self
    where
        S: Stream + Send + 'static,
        S::Item: AsRef<str> + Send + 'static,
        F: Fn(&S::Item) -> u128 + Send + 'static,
    {
        let run = Run {
            items: Box::pin(items),
            units,
            meter,
            config: Config {
                reserve: config.reserve.max(1),
                ..config
            },
            funds,
            held: None,
            reserved: false,
            deadline: None,
            announced: None,
            queued: None,
            slot: None,
            ending: false,
            finished: false,
            debited: 0,
            credit: 0,
            reported: 0,
            pace: Pace::default(),
        };
        // Boxed, so that each step moves a pointer, not the state.
        let events = futures_util::stream::unfold(Box::new(run), |mut run| async move {
            let event = run.next_event().await?;
            Some((event, run))
        });
        Self {
            events: Box::pin(events),
        }
    }
}

impl fmt::Debug for MeteredBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeteredBody").finish_non_exhaustive()
    }
}

impl Body for MeteredBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.events
            .as_mut()
            .poll_next(cx)
            .map(|event| event.map(|bytes| Ok(Frame::data(bytes))))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}
