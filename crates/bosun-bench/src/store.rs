//! `bosun-bench store`: the storage backends on their own, without the API
//! server: `ops` creates, then `ops` conditional updates, `ops` gets and
//! `ops` conditional deletes, spread over `clients` concurrent tasks.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use bosun_store::{Revision, Store};
use bytes::Bytes;

use crate::objects;
use crate::report::Report;
use crate::setup::{run_id, workers};
use crate::stats::Recorder;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// The embedded redb store (fsync per group commit).
    Redb,
    /// etcd v3.
    Etcd,
}

#[derive(Clone, Debug)]
pub struct StoreArgs {
    pub backend: Backend,
    pub clients: usize,
    pub ops: usize,
    /// Directory for the redb file (a fresh subdirectory is made in it).
    pub dir: PathBuf,
    pub etcd_endpoints: Vec<String>,
    pub value_size: usize,
    /// Keys in no order, as controllers name pods (`name-<random>`),
    /// rather than counting up.
    pub random_names: bool,
}

/// The key of op `i`: counting up, or (`random`) a hash of `i` first, so
/// consecutive ops land anywhere in the key space.
fn key_of(prefix: &str, i: usize, random: bool) -> String {
    if !random {
        return format!("{prefix}{i:08}");
    }
    // splitmix64: a fixed, well-spread permutation of the index.
    let mut z = (i as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    format!("{prefix}{z:016x}-{i}")
}

/// Keys of client `c`: the ops with index `c`, `c + clients`, ….
fn indexes(client: usize, clients: usize, ops: usize) -> impl Iterator<Item = usize> {
    (client..ops).step_by(clients.max(1))
}

pub async fn run(args: &StoreArgs, report: &mut Report) -> anyhow::Result<()> {
    report.param("backend", format!("{:?}", args.backend).to_lowercase());
    report.param("clients", args.clients);
    report.param("ops per phase", args.ops);
    report.param(
        "key order",
        if args.random_names {
            "random"
        } else {
            "ascending"
        },
    );
    let id = run_id();
    let mut cleanup = None;
    let store: Arc<dyn Store> = match args.backend {
        Backend::Redb => {
            let dir = args.dir.join(format!("bosun-bench-store-{id}"));
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            report.param("file", dir.join("bench.redb").display());
            let store = bosun_store_redb::RedbStore::open(dir.join("bench.redb"))
                .context("cannot open the redb store")?;
            cleanup = Some(dir);
            Arc::new(store)
        }
        Backend::Etcd => {
            report.param("endpoints", args.etcd_endpoints.join(","));
            Arc::new(
                bosun_store_etcd::EtcdStore::connect(&args.etcd_endpoints)
                    .await
                    .context("cannot connect to etcd")?,
            )
        }
    };
    let prefix = format!("/bosun-bench/{id}/");
    let value = objects::pod_of_size(args.value_size);
    report.fact("value size", value.len() as f64, "bytes");
    let result = phases(&store, args, &prefix, value, report).await;
    drop(store);
    if let Some(dir) = cleanup {
        let _ = std::fs::remove_dir_all(dir);
    }
    result
}

async fn phases(
    store: &Arc<dyn Store>,
    args: &StoreArgs,
    prefix: &str,
    value: Bytes,
    report: &mut Report,
) -> anyhow::Result<()> {
    let clients = args.clients.max(1);
    let ops = args.ops;
    let random = args.random_names;
    let key = |i: usize| key_of(prefix, i, random);

    // Each phase returns, per client, the revisions it saw by op index.
    let start = Instant::now();
    let results = workers(clients, |c| {
        let (store, value, prefix) = (store.clone(), value.clone(), prefix.to_string());
        async move {
            let mut rec = Recorder::default();
            let mut revs = Vec::new();
            for i in indexes(c, clients, ops) {
                let t = Instant::now();
                match store
                    .create(&key_of(&prefix, i, random), value.clone())
                    .await
                {
                    Ok(kv) => {
                        rec.ok(t.elapsed());
                        revs.push((i, kv.mod_revision));
                    }
                    Err(e) => rec.err(|| e.to_string()),
                }
            }
            (rec, revs)
        }
    })
    .await?;
    let wall = start.elapsed();
    let (recs, revs): (Vec<_>, Vec<Vec<(usize, Revision)>>) = results.into_iter().unzip();
    report.record("create", &mut Recorder::merged(recs), wall);

    let start = Instant::now();
    let results = workers(clients, |c| {
        let (store, value) = (store.clone(), value.clone());
        let mine = revs[c].clone();
        let keys: Vec<String> = mine.iter().map(|(i, _)| key(*i)).collect();
        async move {
            let mut rec = Recorder::default();
            let mut out = Vec::with_capacity(mine.len());
            for ((i, rev), k) in mine.into_iter().zip(keys) {
                let t = Instant::now();
                match store.update(&k, value.clone(), rev).await {
                    Ok(kv) => {
                        rec.ok(t.elapsed());
                        out.push((i, kv.mod_revision));
                    }
                    Err(e) => rec.err(|| e.to_string()),
                }
            }
            (rec, out)
        }
    })
    .await?;
    let wall = start.elapsed();
    let (recs, revs): (Vec<_>, Vec<Vec<(usize, Revision)>>) = results.into_iter().unzip();
    report.record(
        "update (compare mod_revision)",
        &mut Recorder::merged(recs),
        wall,
    );

    let start = Instant::now();
    let recs = workers(clients, |c| {
        let store = store.clone();
        let keys: Vec<String> = revs[c].iter().map(|(i, _)| key(*i)).collect();
        async move {
            let mut rec = Recorder::default();
            for k in keys {
                let t = Instant::now();
                match store.get(&k).await {
                    Ok(Some(_)) => rec.ok(t.elapsed()),
                    Ok(None) => rec.err(|| format!("{k} missing")),
                    Err(e) => rec.err(|| e.to_string()),
                }
            }
            rec
        }
    })
    .await?;
    let wall = start.elapsed();
    report.record("get", &mut Recorder::merged(recs), wall);

    let start = Instant::now();
    let recs = workers(clients, |c| {
        let store = store.clone();
        let mine = revs[c].clone();
        let keys: Vec<String> = mine.iter().map(|(i, _)| key(*i)).collect();
        async move {
            let mut rec = Recorder::default();
            for ((_, rev), k) in mine.into_iter().zip(keys) {
                let t = Instant::now();
                match store.delete(&k, Some(rev)).await {
                    Ok(_) => rec.ok(t.elapsed()),
                    Err(e) => rec.err(|| e.to_string()),
                }
            }
            rec
        }
    })
    .await?;
    let wall = start.elapsed();
    report.record(
        "delete (compare mod_revision)",
        &mut Recorder::merged(recs),
        wall,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_partition_the_ops() {
        let mut all: Vec<usize> = (0..3).flat_map(|c| indexes(c, 3, 10)).collect();
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        assert_eq!(indexes(1, 3, 10).collect::<Vec<_>>(), vec![1, 4, 7]);
        assert_eq!(indexes(5, 8, 3).count(), 0);
    }

    #[test]
    fn random_names_are_distinct_and_out_of_order() {
        let names: Vec<String> = (0..1000).map(|i| key_of("/p/", i, true)).collect();
        let distinct: std::collections::HashSet<&String> = names.iter().collect();
        assert_eq!(distinct.len(), names.len());
        assert!(names.windows(2).any(|w| w[0] > w[1]), "not ascending");
        assert!(names.iter().all(|n| n.starts_with("/p/")));
        assert_eq!(key_of("/p/", 7, false), "/p/00000007");
    }

    #[tokio::test]
    async fn redb_backend_runs_every_phase() {
        let dir = tempfile::tempdir().unwrap();
        let args = StoreArgs {
            backend: Backend::Redb,
            clients: 4,
            ops: 40,
            dir: dir.path().to_path_buf(),
            etcd_endpoints: vec![],
            value_size: 1500,
            random_names: true,
        };
        let mut report = Report::new("store", "test");
        run(&args, &mut report).await.unwrap();
        let names: Vec<&str> = report.rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "create",
                "update (compare mod_revision)",
                "get",
                "delete (compare mod_revision)"
            ]
        );
        for row in &report.rows {
            assert_eq!((row.ops, row.errors), (40, 0), "{}", row.name);
        }
        // The store's directory is removed afterwards.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
