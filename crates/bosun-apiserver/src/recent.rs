//! Decoded copies of recently written objects.
//!
//! The watch cache keeps objects encoded; an update needs the current object
//! decoded. Most updates follow a recent write of the same object (a
//! controller's read-modify-write, a status update after a create), so the
//! REST layer remembers the last few written objects, already decoded, and
//! hands one out only while the cache still holds that exact revision.

use std::num::NonZeroUsize;
use std::sync::Arc;

use lru::LruCache;
use parking_lot::Mutex;
use serde_json::Value;

/// How many objects are remembered. Bounded so that large objects cannot
/// pile up: at ten to a few tens of KB decoded each this stays under about
/// a hundred MB. Sized for the gap between a pod's binding and its node's
/// first status write on a busy cluster (thousands of writes apart when
/// pods start at thousands per second), where a miss decodes the pod again.
const CAPACITY: usize = 4096;

pub struct Recent {
    objects: Mutex<LruCache<String, (String, Arc<Value>)>>,
}

impl Default for Recent {
    fn default() -> Self {
        Recent {
            objects: Mutex::new(LruCache::new(
                NonZeroUsize::new(CAPACITY).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }
}

impl Recent {
    /// Remembers `object`, written at `resource_version`, under `key`.
    pub fn remember(&self, key: String, resource_version: String, object: Arc<Value>) {
        self.objects.lock().put(key, (resource_version, object));
    }

    /// The object under `key` if it was remembered at `resource_version`.
    pub fn get(&self, key: &str, resource_version: &str) -> Option<Arc<Value>> {
        let mut objects = self.objects.lock();
        match objects.get(key) {
            Some((rv, object)) if rv == resource_version => Some(object.clone()),
            Some(_) => {
                objects.pop(key);
                None
            }
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hands_out_only_the_remembered_revision() {
        let recent = Recent::default();
        recent.remember("/a".into(), "5".into(), Arc::new(json!({"v": 5})));
        assert_eq!(recent.get("/a", "5").as_deref(), Some(&json!({"v": 5})));
        assert!(recent.get("/a", "6").is_none());
        // A stale copy is dropped once seen.
        assert!(recent.get("/a", "5").is_none());
    }
}
