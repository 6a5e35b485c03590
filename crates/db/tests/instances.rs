//! Instance liveness against a real Postgres: a live instance is left alone, one whose
//! session closed (a killed process) is reaped at once, one whose heartbeat went stale (a hung
//! process) is reaped although it still holds its lock, and an instance judged dead while
//! alive registers again on its next beat.

use std::sync::Mutex;
use std::time::Duration;

use sqlx::{PgConnection, PgPool};
use temponest_db::instances::{Instance, Liveness, Reaper, reap};
use uuid::Uuid;

/// Records the dead instances it is given.
#[derive(Default)]
struct Recorder(Mutex<Vec<Uuid>>);

impl Reaper for Recorder {
    fn role(&self) -> &'static str {
        "test"
    }

    async fn release(&self, _conn: &mut PgConnection, dead: &[Uuid]) -> sqlx::Result<u64> {
        self.0.lock().unwrap().extend_from_slice(dead);
        Ok(dead.len() as u64)
    }
}

async fn registered(pool: &PgPool, id: Uuid) -> bool {
    sqlx::query_scalar::<_, bool>("select exists (select 1 from platform.instances where id = $1)")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_live_instance_is_left_alone_and_a_killed_one_is_reaped_at_once(pool: PgPool) {
    let me = Uuid::now_v7();
    let survivor = Instance::register(&pool, me, "test").await.unwrap();
    let doomed = Instance::register(&pool, Uuid::now_v7(), "test")
        .await
        .unwrap();
    let doomed_id = doomed.id();
    let other_role = Instance::register(&pool, Uuid::now_v7(), "other")
        .await
        .unwrap();
    let reaper = Recorder::default();
    // A minute of staleness: only the lost lock can make an instance dead here.
    let liveness = Liveness {
        every_ms: 2000,
        stale_after_ms: 60_000,
    };
    assert!(reap(&pool, me, liveness, &reaper).await.unwrap().is_empty());

    // A crash: the lock connection closes without a word.
    drop(doomed);
    drop(other_role);
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let dead = reap(&pool, me, liveness, &reaper).await.unwrap();
            if !dead.is_empty() {
                return dead;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the killed instance is found long before it goes stale");
    assert_eq!(found, vec![doomed_id]);
    assert_eq!(
        *reaper.0.lock().unwrap(),
        vec![doomed_id],
        "its work released"
    );
    assert!(!registered(&pool, doomed_id).await);
    assert!(registered(&pool, survivor.id()).await);
}

#[sqlx::test(migrator = "temponest_db::MIGRATOR")]
async fn a_hung_instance_is_reaped_once_its_heartbeat_is_stale_and_registers_again_on_its_next_beat(
    pool: PgPool,
) {
    let me = Uuid::now_v7();
    let mut hung = Instance::register(&pool, Uuid::now_v7(), "test")
        .await
        .unwrap();
    let reaper = Recorder::default();
    let liveness = Liveness::default();
    assert!(reap(&pool, me, liveness, &reaper).await.unwrap().is_empty());

    // Its last heartbeat a minute ago, its lock still held.
    sqlx::query("update platform.instances set heartbeat_at = now() - interval '1 minute'")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        reap(&pool, me, liveness, &reaper).await.unwrap(),
        vec![hung.id()]
    );
    assert!(!registered(&pool, hung.id()).await);

    // It was alive after all: its next beat registers it again, and it is left alone.
    hung.beat().await.unwrap();
    assert!(registered(&pool, hung.id()).await);
    assert!(reap(&pool, me, liveness, &reaper).await.unwrap().is_empty());
}

#[test]
fn liveness_settings_that_cannot_work_are_rejected_naming_the_variable() {
    assert_eq!(Liveness::default().validate(), Ok(()));
    let too_fast = Liveness {
        every_ms: 10,
        stale_after_ms: 6000,
    };
    assert!(
        too_fast
            .validate()
            .unwrap_err()
            .to_string()
            .contains("TEMPONEST_LIVENESS__EVERY_MS")
    );
    let too_eager = Liveness {
        every_ms: 2000,
        stale_after_ms: 3000,
    };
    assert!(
        too_eager
            .validate()
            .unwrap_err()
            .to_string()
            .contains("TEMPONEST_LIVENESS__STALE_AFTER_MS")
    );
}
