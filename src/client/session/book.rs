//! Where a session client keeps its channels: what it needs to go on paying
//! a server with the channel it opened, in this process or after a restart.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use alloy_primitives::{Address, B256};
use serde::{Deserialize, Serialize};

use crate::tempo::session::wire::decimal_u128;

/// One open channel, as its payer keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ChannelRecord {
    /// The channel id.
    pub channel_id: B256,
    /// The escrow contract.
    pub escrow: Address,
    /// The chain.
    pub chain_id: u64,
    /// The payee.
    pub payee: Address,
    /// The token.
    pub token: Address,
    /// What the escrow holds, in base units.
    #[serde(with = "decimal_u128")]
    pub deposit: u128,
    /// The highest voucher signed, in base units.
    #[serde(with = "decimal_u128")]
    pub cumulative: u128,
    /// What the server last said was spent, in base units (a stream's
    /// final receipt), at most `cumulative`: the close pays this much when
    /// it is known, and never more than the highest voucher.
    #[serde(default, with = "decimal_u128")]
    pub spent: u128,
    /// The salt the channel was opened with (its id derives from it).
    #[serde(default)]
    pub salt: B256,
    /// Whether the server has accepted a payment from the channel: until
    /// then each payment is sent as an `open` again (same salt, so the same
    /// channel), which the server takes as a voucher once it knows the
    /// channel.
    #[serde(default = "yes")]
    pub confirmed: bool,
}

fn yes() -> bool {
    true
}

/// Keeps a session client's channels, by server (see
/// [`TempoSessionProvider::book`](super::TempoSessionProvider::book)).
///
/// A voucher is recorded before it is sent, so a client that restarts
/// never signs a lower one for the same channel.
pub trait ChannelBook: Send + Sync + 'static {
    /// The channel recorded under `key`.
    ///
    /// # Errors
    ///
    /// An I/O error when the book cannot be read.
    fn get(&self, key: &str) -> io::Result<Option<ChannelRecord>>;

    /// Records `record` under `key` (replacing any).
    ///
    /// # Errors
    ///
    /// An I/O error when the book cannot be written: nothing is sent then.
    fn put(&self, key: &str, record: &ChannelRecord) -> io::Result<()>;

    /// Forgets the channel under `key` (closed).
    ///
    /// # Errors
    ///
    /// An I/O error when the book cannot be written.
    fn remove(&self, key: &str) -> io::Result<()>;

    /// Every channel recorded, with its key, in no particular order (for
    /// [`retired_channels`](super::TempoSessionProvider::retired_channels)).
    ///
    /// # Errors
    ///
    /// An I/O error when the book cannot be read.
    fn records(&self) -> io::Result<Vec<(String, ChannelRecord)>>;
}

/// The records of `records`, cloned with their keys.
fn listed(records: &Mutex<HashMap<String, ChannelRecord>>) -> Vec<(String, ChannelRecord)> {
    let records = records.lock().unwrap_or_else(PoisonError::into_inner);
    records
        .iter()
        .map(|(key, record)| (key.clone(), record.clone()))
        .collect()
}

/// Channels in memory: forgotten when the process ends.
#[derive(Debug, Default)]
pub struct MemoryBook {
    records: Mutex<HashMap<String, ChannelRecord>>,
}

impl MemoryBook {
    /// An empty book.
    pub fn new() -> Self {
        Self::default()
    }
}

impl ChannelBook for MemoryBook {
    fn get(&self, key: &str) -> io::Result<Option<ChannelRecord>> {
        let records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(records.get(key).cloned())
    }

    fn put(&self, key: &str, record: &ChannelRecord) -> io::Result<()> {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        records.insert(key.to_owned(), record.clone());
        Ok(())
    }

    fn remove(&self, key: &str) -> io::Result<()> {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        records.remove(key);
        Ok(())
    }

    fn records(&self) -> io::Result<Vec<(String, ChannelRecord)>> {
        Ok(listed(&self.records))
    }
}

/// Channels in a JSON file, rewritten whole on each change (to a temporary
/// file, then renamed over it, so a crash leaves the old or the new book,
/// never half of one). One process per file.
pub struct FileBook {
    path: PathBuf,
    records: Mutex<HashMap<String, ChannelRecord>>,
}

impl FileBook {
    /// The book in `path`, read now (an absent file is an empty book).
    ///
    /// # Errors
    ///
    /// An I/O error when the file exists but cannot be read or parsed.
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref().to_owned();
        let records = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => HashMap::new(),
            Err(e) => return Err(e),
        };
        Ok(Self {
            path,
            records: Mutex::new(records),
        })
    }

    fn write(&self, records: &HashMap<String, ChannelRecord>) -> io::Result<()> {
        let json = serde_json::to_vec_pretty(records)?;
        let mut temporary = self.path.clone().into_os_string();
        temporary.push(".tmp");
        std::fs::write(&temporary, json)?;
        std::fs::rename(&temporary, &self.path)
    }
}

impl fmt::Debug for FileBook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileBook")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl ChannelBook for FileBook {
    fn get(&self, key: &str) -> io::Result<Option<ChannelRecord>> {
        let records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(records.get(key).cloned())
    }

    fn put(&self, key: &str, record: &ChannelRecord) -> io::Result<()> {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        let mut next = records.clone();
        next.insert(key.to_owned(), record.clone());
        self.write(&next)?;
        *records = next;
        Ok(())
    }

    fn remove(&self, key: &str) -> io::Result<()> {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        let mut next = records.clone();
        next.remove(key);
        self.write(&next)?;
        *records = next;
        Ok(())
    }

    fn records(&self) -> io::Result<Vec<(String, ChannelRecord)>> {
        Ok(listed(&self.records))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(cumulative: u128) -> ChannelRecord {
        ChannelRecord {
            channel_id: B256::repeat_byte(1),
            escrow: Address::repeat_byte(2),
            chain_id: 1337,
            payee: Address::repeat_byte(3),
            token: Address::repeat_byte(4),
            deposit: u128::MAX,
            cumulative,
            spent: 0,
            salt: B256::ZERO,
            confirmed: true,
        }
    }

    #[test]
    fn a_file_book_survives_a_restart_with_exact_amounts() {
        let dir = std::env::temp_dir().join(format!("tower-mpp-book-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("channels.json");
        let _ = std::fs::remove_file(&path);
        let book = FileBook::open(&path).unwrap();
        assert_eq!(book.get("a").unwrap(), None);
        book.put("a", &record(7)).unwrap();
        book.put("b", &record(u128::MAX - 1)).unwrap();
        book.remove("a").unwrap();
        assert_eq!(
            book.records().unwrap(),
            [("b".to_owned(), record(u128::MAX - 1))]
        );
        drop(book);
        let reopened = FileBook::open(&path).unwrap();
        assert_eq!(reopened.get("a").unwrap(), None);
        assert_eq!(reopened.get("b").unwrap(), Some(record(u128::MAX - 1)));
        std::fs::write(&path, b"{not json").unwrap();
        assert!(FileBook::open(&path).is_err(), "a corrupt book is an error");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_memory_book_keeps_records_by_key() {
        let book = MemoryBook::new();
        book.put("k", &record(1)).unwrap();
        assert_eq!(book.get("k").unwrap(), Some(record(1)));
        book.remove("k").unwrap();
        assert_eq!(book.get("k").unwrap(), None);
    }
}
