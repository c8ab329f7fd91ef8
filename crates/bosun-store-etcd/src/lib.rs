//! An etcd v3 [`Store`]: for clusters that outgrow one machine.
//!
//! Keys map one to one onto etcd keys under an optional prefix; Bosun's
//! revisions are etcd's revisions, so resourceVersions stay meaningful
//! across API servers sharing one etcd. Conditional writes are etcd
//! transactions comparing `create_revision` (create) or `mod_revision`
//! (update, delete). Acknowledgement means etcd committed through Raft.

use bosun_store::{Event, EventKind, KeyValue, Result, Revision, Store, StoreError, WatchStream};
use bytes::Bytes;
use etcd_client::{
    Client, Compare, CompareOp, DeleteOptions, EventType, GetOptions, Txn, TxnOp, TxnOpResponse,
    WatchOptions,
};
use futures::StreamExt;

pub struct EtcdStore {
    client: Client,
}

fn backend(err: etcd_client::Error) -> StoreError {
    StoreError::Backend(format!("etcd: {err}"))
}

fn convert(kv: &etcd_client::KeyValue) -> Result<KeyValue> {
    let key = kv
        .key_str()
        .map_err(|e| StoreError::Backend(format!("etcd key is not UTF-8: {e}")))?;
    Ok(KeyValue {
        key: key.to_string(),
        value: Bytes::copy_from_slice(kv.value()),
        create_revision: kv.create_revision(),
        mod_revision: kv.mod_revision(),
    })
}

impl EtcdStore {
    /// Connects to the given endpoints (`http://127.0.0.1:2379`, …).
    pub async fn connect(endpoints: &[String]) -> Result<Self> {
        let client = Client::connect(endpoints, None).await.map_err(backend)?;
        Ok(EtcdStore { client })
    }

    fn header_revision(header: Option<&etcd_client::ResponseHeader>) -> Revision {
        header.map(|h| h.revision()).unwrap_or(0)
    }

    /// After a failed conditional write: why did it fail?
    fn failure(key: &str, expected: Revision, responses: Vec<TxnOpResponse>) -> StoreError {
        for response in responses {
            if let TxnOpResponse::Get(get) = response {
                return match get.kvs().first() {
                    Some(current) => StoreError::Conflict {
                        key: key.into(),
                        expected,
                        actual: current.mod_revision(),
                    },
                    None => StoreError::NotFound { key: key.into() },
                };
            }
        }
        StoreError::Backend(format!(
            "etcd transaction on {key:?} failed without a reason"
        ))
    }
}

#[async_trait::async_trait]
impl Store for EtcdStore {
    async fn current_revision(&self) -> Result<Revision> {
        let mut client = self.client.clone();
        let response = client
            .get("\0", Some(GetOptions::new().with_count_only()))
            .await
            .map_err(backend)?;
        Ok(Self::header_revision(response.header()))
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        let mut client = self.client.clone();
        let response = client.get(key, None).await.map_err(backend)?;
        response.kvs().first().map(convert).transpose()
    }

    async fn list(&self, prefix: &str) -> Result<(Vec<KeyValue>, Revision)> {
        let mut client = self.client.clone();
        let response = client
            .get(prefix, Some(GetOptions::new().with_prefix()))
            .await
            .map_err(backend)?;
        let items = response.kvs().iter().map(convert).collect::<Result<_>>()?;
        Ok((items, Self::header_revision(response.header())))
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue> {
        let mut client = self.client.clone();
        let txn = Txn::new()
            .when([Compare::create_revision(key, CompareOp::Equal, 0)])
            .and_then([TxnOp::put(key, value.to_vec(), None)]);
        let response = client.txn(txn).await.map_err(backend)?;
        if !response.succeeded() {
            return Err(StoreError::AlreadyExists { key: key.into() });
        }
        let revision = Self::header_revision(response.header());
        Ok(KeyValue {
            key: key.into(),
            value,
            create_revision: revision,
            mod_revision: revision,
        })
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<KeyValue> {
        let mut client = self.client.clone();
        let txn = Txn::new()
            .when([Compare::mod_revision(key, CompareOp::Equal, expected)])
            .and_then([TxnOp::put(key, value.to_vec(), None), TxnOp::get(key, None)])
            .or_else([TxnOp::get(key, None)]);
        let response = client.txn(txn).await.map_err(backend)?;
        let succeeded = response.succeeded();
        let revision = Self::header_revision(response.header());
        let responses = response.op_responses();
        if !succeeded {
            return Err(Self::failure(key, expected, responses));
        }
        let create_revision = responses
            .iter()
            .find_map(|r| match r {
                TxnOpResponse::Get(get) => get.kvs().first().map(|kv| kv.create_revision()),
                _ => None,
            })
            .unwrap_or(revision);
        Ok(KeyValue {
            key: key.into(),
            value,
            create_revision,
            mod_revision: revision,
        })
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue> {
        let mut client = self.client.clone();
        let compare = match expected {
            Some(rev) => Compare::mod_revision(key, CompareOp::Equal, rev),
            None => Compare::create_revision(key, CompareOp::Greater, 0),
        };
        let txn = Txn::new()
            .when([compare])
            .and_then([TxnOp::delete(
                key,
                Some(DeleteOptions::new().with_prev_key()),
            )])
            .or_else([TxnOp::get(key, None)]);
        let response = client.txn(txn).await.map_err(backend)?;
        let succeeded = response.succeeded();
        let revision = Self::header_revision(response.header());
        let responses = response.op_responses();
        if !succeeded {
            return Err(Self::failure(key, expected.unwrap_or(0), responses));
        }
        for response in responses {
            if let TxnOpResponse::Delete(deleted) = response {
                if let Some(prev) = deleted.prev_kvs().first() {
                    let mut kv = convert(prev)?;
                    kv.mod_revision = revision;
                    return Ok(kv);
                }
            }
        }
        Err(StoreError::NotFound { key: key.into() })
    }

    async fn watch(&self, prefix: &str, from: Revision) -> Result<WatchStream> {
        let mut client = self.client.clone();
        let mut options = WatchOptions::new().with_prefix().with_prev_key();
        if from > 0 {
            options = options.with_start_revision(from);
        }
        let stream = client.watch(prefix, Some(options)).await.map_err(backend)?;
        let events =
            futures::stream::unfold((stream, false), move |(mut stream, done)| async move {
                if done {
                    return None;
                }
                match stream.message().await {
                    Ok(Some(response)) => {
                        if response.compact_revision() > 0 {
                            let err = StoreError::Compacted {
                                requested: from,
                                compacted: response.compact_revision(),
                            };
                            return Some((vec![Err(err)], (stream, true)));
                        }
                        if response.canceled() {
                            let err = StoreError::Backend(format!(
                                "etcd cancelled the watch: {}",
                                response.cancel_reason()
                            ));
                            return Some((vec![Err(err)], (stream, true)));
                        }
                        let batch = response
                            .events()
                            .iter()
                            .filter_map(|event| {
                                let kv = event.kv()?;
                                let prev = event.prev_kv().map(convert).transpose();
                                Some(match (event.event_type(), convert(kv), prev) {
                                    (_, Err(e), _) | (_, _, Err(e)) => Err(e),
                                    (EventType::Put, Ok(kv), Ok(prev)) => Ok(Event {
                                        kind: EventKind::Put,
                                        kv,
                                        prev,
                                    }),
                                    (EventType::Delete, Ok(tombstone), Ok(prev)) => {
                                        // etcd's delete event carries an empty value;
                                        // report the last value instead.
                                        let kv = match &prev {
                                            Some(p) => KeyValue {
                                                mod_revision: tombstone.mod_revision,
                                                ..p.clone()
                                            },
                                            None => tombstone,
                                        };
                                        Ok(Event {
                                            kind: EventKind::Delete,
                                            kv,
                                            prev,
                                        })
                                    }
                                })
                            })
                            .collect::<Vec<_>>();
                        Some((batch, (stream, false)))
                    }
                    Ok(None) => None,
                    Err(err) => Some((vec![Err(backend(err))], (stream, true))),
                }
            })
            .flat_map(futures::stream::iter);
        Ok(events.boxed())
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        let mut client = self.client.clone();
        client.compact(revision, None).await.map_err(backend)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
