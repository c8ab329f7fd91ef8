//! An in-memory [`Store`]: the fake behind unit tests and the reference
//! implementation the conformance suite is written against.

use std::collections::BTreeMap;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::{
    Event, EventKind, EventLog, KeyValue, Result, Revision, Store, StoreError, WatchStream,
};

pub struct MemStore {
    state: Mutex<State>,
    log: EventLog,
}

#[derive(Default)]
struct State {
    revision: Revision,
    data: BTreeMap<String, KeyValue>,
}

impl Default for MemStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemStore {
    pub fn new() -> Self {
        MemStore {
            state: Mutex::new(State::default()),
            log: EventLog::new(0, 100_000),
        }
    }
}

#[async_trait::async_trait]
impl Store for MemStore {
    async fn current_revision(&self) -> Result<Revision> {
        Ok(self.state.lock().revision)
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        Ok(self.state.lock().data.get(key).cloned())
    }

    async fn list(&self, prefix: &str) -> Result<(Vec<KeyValue>, Revision)> {
        let state = self.state.lock();
        let items = state
            .data
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v.clone())
            .collect();
        Ok((items, state.revision))
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue> {
        let mut state = self.state.lock();
        if state.data.contains_key(key) {
            return Err(StoreError::AlreadyExists { key: key.into() });
        }
        state.revision += 1;
        let kv = KeyValue {
            key: key.into(),
            value,
            create_revision: state.revision,
            mod_revision: state.revision,
        };
        state.data.insert(key.into(), kv.clone());
        self.log.append(vec![Event {
            kind: EventKind::Put,
            kv: kv.clone(),
            prev: None,
        }]);
        Ok(kv)
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<KeyValue> {
        let mut state = self.state.lock();
        let Some(prev) = state.data.get(key).cloned() else {
            return Err(StoreError::NotFound { key: key.into() });
        };
        if prev.mod_revision != expected {
            return Err(StoreError::Conflict {
                key: key.into(),
                expected,
                actual: prev.mod_revision,
            });
        }
        state.revision += 1;
        let kv = KeyValue {
            key: key.into(),
            value,
            create_revision: prev.create_revision,
            mod_revision: state.revision,
        };
        state.data.insert(key.into(), kv.clone());
        self.log.append(vec![Event {
            kind: EventKind::Put,
            kv: kv.clone(),
            prev: Some(prev),
        }]);
        Ok(kv)
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue> {
        let mut state = self.state.lock();
        let Some(prev) = state.data.get(key).cloned() else {
            return Err(StoreError::NotFound { key: key.into() });
        };
        if let Some(expected) = expected {
            if prev.mod_revision != expected {
                return Err(StoreError::Conflict {
                    key: key.into(),
                    expected,
                    actual: prev.mod_revision,
                });
            }
        }
        state.revision += 1;
        state.data.remove(key);
        let kv = KeyValue {
            mod_revision: state.revision,
            ..prev.clone()
        };
        self.log.append(vec![Event {
            kind: EventKind::Delete,
            kv: kv.clone(),
            prev: Some(prev),
        }]);
        Ok(kv)
    }

    async fn watch(&self, prefix: &str, from: Revision) -> Result<WatchStream> {
        self.log.watch(prefix, from)
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        self.log.compact(revision);
        Ok(())
    }
}
