//! The streams of this process that wait for the same payer's funds,
//! counted so that unpaid streams cannot hold connections without bound.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, PoisonError};

/// Waiting streams per payer's funds: the receipt's method and reference
/// (a session's channel id).
static WAITING: LazyLock<Mutex<HashMap<String, usize>>> = LazyLock::new(Mutex::default);

/// A place among the streams waiting for `funds`; given back on drop.
#[derive(Debug)]
pub(super) struct WaitSlot {
    funds: String,
}

/// A place among the streams waiting for `funds`, `None` when `max` wait
/// already.
pub(super) fn admit(funds: &str, max: usize) -> Option<WaitSlot> {
    let mut waiting = WAITING.lock().unwrap_or_else(PoisonError::into_inner);
    let count = waiting.entry(funds.to_owned()).or_default();
    if *count >= max {
        if *count == 0 {
            waiting.remove(funds);
        }
        return None;
    }
    *count += 1;
    Some(WaitSlot {
        funds: funds.to_owned(),
    })
}

impl Drop for WaitSlot {
    fn drop(&mut self) {
        let mut waiting = WAITING.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = waiting.get_mut(&self.funds) {
            *count -= 1;
            if *count == 0 {
                waiting.remove(&self.funds);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_max_wait_and_a_dropped_slot_makes_room() {
        let funds = "test 0xadmit";
        let first = admit(funds, 2).unwrap();
        let _second = admit(funds, 2).unwrap();
        assert!(admit(funds, 2).is_none());
        assert!(admit("test 0xother", 2).is_some());
        drop(first);
        assert!(admit(funds, 2).is_some());
        assert!(admit("test 0xnone", 0).is_none());
    }
}
