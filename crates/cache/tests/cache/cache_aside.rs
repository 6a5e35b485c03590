//! Cache-aside reads and explicit writes: L1, Redis, loader, single flight, error handling.

use std::sync::Arc;

use deadpool_redis::redis;
use serde::{Deserialize, Serialize};
use temponest_cache::{Cache, CacheConfig, categories};
use tokio::sync::Semaphore;

use crate::support::{Loads, config, two_replicas, wait_until};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Principal {
    user_id: u64,
    scopes: Vec<String>,
}

fn principal() -> Principal {
    Principal {
        user_id: 42,
        scopes: vec!["jobs:read".into(), "jobs:write".into()],
    }
}

#[tokio::test]
async fn the_loader_runs_once_on_a_miss_and_later_calls_are_served_from_l1() {
    let cache = Cache::connect(config()).await;
    let loads = Loads::default();

    for _ in 0..3 {
        let value = cache
            .get_or_load(&categories::PERMISSIONS, "user-42", || {
                loads.load(principal())
            })
            .await;
        assert_eq!(value, Ok(principal()));
    }
    assert_eq!(loads.count(), 1);
}

#[tokio::test]
async fn a_second_instance_with_the_same_prefix_reads_the_value_from_redis_without_loading() {
    let (a, b) = two_replicas().await;
    let (loads_a, loads_b) = (Loads::default(), Loads::default());

    let from_a = a
        .get_or_load(&categories::PERMISSIONS, "user-42", || {
            loads_a.load(principal())
        })
        .await;
    let from_b = b
        .get_or_load(&categories::PERMISSIONS, "user-42", || {
            loads_b.load(principal())
        })
        .await;

    assert_eq!(from_a, Ok(principal()));
    assert_eq!(from_b, Ok(principal()));
    assert_eq!((loads_a.count(), loads_b.count()), (1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_loads_of_one_key_run_the_loader_exactly_once() {
    let cache = Cache::connect(config()).await;
    let loads = Loads::default();
    // The loader blocks until every task has been started, so the calls overlap.
    let gate = Arc::new(Semaphore::new(0));
    let started = Arc::new(Semaphore::new(0));

    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (cache, loads, gate, started) =
                (cache.clone(), loads.clone(), gate.clone(), started.clone());
            tokio::spawn(async move {
                started.add_permits(1);
                cache
                    .get_or_load(&categories::AGENT_CONFIG, "agent-7", || async move {
                        let loaded = loads.load("config".to_owned()).await;
                        let _open = gate.acquire().await.unwrap();
                        loaded
                    })
                    .await
            })
        })
        .collect();
    wait_until("all tasks started and the loader is running", || async {
        started.available_permits() == 50 && loads.count() >= 1
    })
    .await;
    gate.add_permits(1);

    for task in tasks {
        assert_eq!(task.await.unwrap(), Ok::<_, String>("config".to_owned()));
    }
    assert_eq!(loads.count(), 1);
}

#[tokio::test]
async fn loader_errors_are_returned_and_not_cached() {
    let cache = Cache::connect(config()).await;
    let loads = Loads::default();

    let first: Result<String, String> = cache
        .get_or_load(&categories::RAG, "q", || loads.fail("upstream down"))
        .await;
    assert_eq!(first, Err("upstream down".to_owned()));

    let second = cache
        .get_or_load(&categories::RAG, "q", || loads.load("answer".to_owned()))
        .await;
    assert_eq!(second, Ok("answer".to_owned()));
    assert_eq!(loads.count(), 2);
}

#[tokio::test]
async fn get_misses_until_set_and_then_every_instance_reads_the_value() {
    let (a, b) = two_replicas().await;

    assert_eq!(
        a.get::<Principal>(&categories::JWT, "token-hash").await,
        None
    );
    a.set(&categories::JWT, "token-hash", &principal()).await;

    assert_eq!(
        a.get(&categories::JWT, "token-hash").await,
        Some(principal())
    );
    assert_eq!(
        b.get(&categories::JWT, "token-hash").await,
        Some(principal())
    );
}

#[tokio::test]
async fn values_are_stored_in_redis_as_json_with_the_category_ttl() {
    let config = config();
    let cache = Cache::connect(config.clone()).await;
    cache
        .set(&categories::DASHBOARD, "tenant-1", &principal())
        .await;

    let mut conn = cache.redis_pool().unwrap().get().await.unwrap();
    let key = format!("{}:cache:dashboard:k:tenant-1", config.key_prefix);
    let (json, pttl): (String, i64) = redis::pipe()
        .cmd("GET")
        .arg(&key)
        .cmd("PTTL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();

    assert_eq!(
        serde_json::from_str::<Principal>(&json).unwrap(),
        principal()
    );
    let ttl_ms = categories::DASHBOARD.ttl.as_millis() as i64;
    assert!(pttl > 0 && pttl <= ttl_ms, "PTTL {pttl} ms");
}

#[tokio::test]
async fn one_key_used_with_two_value_types_falls_back_to_the_loader() {
    let cache = Cache::connect(config()).await;
    let loads = Loads::default();
    let _ = cache
        .get_or_load(&categories::HEALTH, "db", || loads.load(1_u32))
        .await;

    let other_type = cache
        .get_or_load(&categories::HEALTH, "db", || loads.load("up".to_owned()))
        .await;

    assert_eq!(other_type, Ok("up".to_owned()));
    assert_eq!(loads.count(), 2);
}

#[tokio::test]
async fn without_a_redis_url_the_cache_works_in_process_only() {
    let cache = Cache::connect(CacheConfig::default()).await;
    let loads = Loads::default();

    for _ in 0..2 {
        let value = cache
            .get_or_load(&categories::EMBEDDINGS, "text", || {
                loads.load(vec![0.5_f32])
            })
            .await;
        assert_eq!(value, Ok(vec![0.5]));
    }
    assert_eq!(loads.count(), 1);
    assert!(cache.redis_pool().is_none());
    assert!(!cache.redis_healthy());
}
