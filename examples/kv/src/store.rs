//! The handler: an in-memory map behind one lock.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

use tether::protocol::ApplicationException;
use tether::server::CallContext;

use crate::idl::kv::{
    Conflict, Entry, KeyValueGetError, KeyValueHandler, KeyValuePutError, NotFound,
};

/// An in-memory key-value store; shared by every connection's worker thread.
#[derive(Debug, Default)]
pub struct Store {
    entries: Mutex<BTreeMap<String, Entry>>,
    puts: AtomicI64,
    touches: AtomicI64,
}

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        Store::default()
    }

    /// How many `touch` calls arrived (they have no reply to count them by).
    pub fn touches(&self) -> i64 {
        self.touches.load(Ordering::Relaxed)
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Entry>> {
        // A handler that panicked mid-update answered INTERNAL_ERROR; the map itself is whole.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl KeyValueHandler for Store {
    fn get(&self, _: &CallContext, key: String) -> Result<Entry, KeyValueGetError> {
        match self.entries().get(&key) {
            Some(entry) => Ok(entry.clone()),
            None => Err(NotFound { key }.into()),
        }
    }

    fn put(
        &self,
        _: &CallContext,
        key: String,
        value: Vec<u8>,
        expected_version: Option<i64>,
    ) -> Result<i64, KeyValuePutError> {
        let mut entries = self.entries();
        let actual = entries.get(&key).map_or(0, |e| e.version);
        if let Some(expected) = expected_version.filter(|&v| v != actual) {
            return Err(Conflict {
                key,
                expected,
                actual,
            }
            .into());
        }
        let version = actual + 1;
        entries.insert(
            key.clone(),
            Entry {
                key,
                value,
                version,
            },
        );
        self.puts.fetch_add(1, Ordering::Relaxed);
        Ok(version)
    }

    fn remove(&self, _: &CallContext, key: String) -> Result<bool, ApplicationException> {
        Ok(self.entries().remove(&key).is_some())
    }

    fn keys(
        &self,
        _: &CallContext,
        prefix: String,
        limit: i32,
    ) -> Result<Vec<String>, ApplicationException> {
        let limit = usize::try_from(limit).unwrap_or(0);
        let entries = self.entries();
        let keys = entries
            .range(prefix.clone()..)
            .map(|(key, _)| key)
            .take_while(|key| key.starts_with(&prefix))
            .take(limit)
            .cloned()
            .collect();
        Ok(keys)
    }

    fn touch(&self, _: &CallContext, _key: String) -> Result<(), ApplicationException> {
        self.touches.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn stats(&self, _: &CallContext) -> Result<BTreeMap<String, i64>, ApplicationException> {
        let keys = i64::try_from(self.entries().len()).unwrap_or(i64::MAX);
        Ok(BTreeMap::from([
            ("keys".to_string(), keys),
            ("puts".to_string(), self.puts.load(Ordering::Relaxed)),
            ("touches".to_string(), self.touches()),
        ]))
    }
}
