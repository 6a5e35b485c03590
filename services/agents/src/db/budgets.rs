//! `agents.budgets` and what enforces them: `budget_usage` (spent and reserved per budget and
//! UTC day or month), `budget_reservations` (one per model call until settled or released) and
//! `budget_alerts` (one per budget, period and kind). The rules are in
//! [`crate::domain::budgets`].

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::budgets::{AlertKind, BudgetPeriod};

/// A stored budget.
#[derive(Debug, Clone)]
pub struct BudgetRow {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub agent_id: Option<Uuid>,
    pub daily_limit_nanos: Option<i64>,
    pub monthly_limit_nanos: Option<i64>,
    pub alert_threshold: f64,
}

/// Creates or replaces the budget of `tenant_id` (and `agent_id`, or the tenant's own).
pub async fn upsert(
    pool: &PgPool,
    tenant_id: Uuid,
    agent_id: Option<Uuid>,
    daily_limit_nanos: Option<i64>,
    monthly_limit_nanos: Option<i64>,
    alert_threshold: f64,
) -> sqlx::Result<BudgetRow> {
    sqlx::query_as!(
        BudgetRow,
        "insert into agents.budgets (id, tenant_id, agent_id, daily_limit_nanos,
                monthly_limit_nanos, alert_threshold)
         values ($1, $2, $3, $4, $5, $6)
         on conflict on constraint budgets_tenant_agent_key do update
         set daily_limit_nanos = excluded.daily_limit_nanos,
             monthly_limit_nanos = excluded.monthly_limit_nanos,
             alert_threshold = excluded.alert_threshold, updated_at = now()
         returning id, tenant_id, agent_id, daily_limit_nanos, monthly_limit_nanos,
                   alert_threshold",
        Uuid::now_v7(),
        tenant_id,
        agent_id,
        daily_limit_nanos,
        monthly_limit_nanos,
        alert_threshold
    )
    .fetch_one(pool)
    .await
}

/// The budget of `tenant_id` for `agent_id` (or the tenant's own).
pub async fn find(
    pool: &PgPool,
    tenant_id: Uuid,
    agent_id: Option<Uuid>,
) -> sqlx::Result<Option<BudgetRow>> {
    sqlx::query_as!(
        BudgetRow,
        "select id, tenant_id, agent_id, daily_limit_nanos, monthly_limit_nanos, alert_threshold
         from agents.budgets where tenant_id = $1 and agent_id is not distinct from $2",
        tenant_id,
        agent_id
    )
    .fetch_optional(pool)
    .await
}

/// Deletes the budget of a deleted agent (its usage and alerts go with it).
pub async fn delete_of_agent(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    agent_id: Uuid,
) -> sqlx::Result<()> {
    sqlx::query!(
        "delete from agents.budgets where tenant_id = $1 and agent_id = $2",
        tenant_id,
        agent_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

// Both settlements return the usage rows they changed through `settled_rows!`.
temponest_db::define_rows! {
    $ settled_rows: SettledUsage { budget_id, tenant_id, agent_id, period, period_start,
                                   spent_nanos, limit_nanos, alert_threshold },
    columns: r#"u.budget_id, b.tenant_id, b.agent_id, u.period as "period: BudgetPeriod",
                u.period_start, u.spent_nanos,
                (case u.period when 'day' then b.daily_limit_nanos
                               else b.monthly_limit_nanos end) as limit_nanos,
                b.alert_threshold"#,
}

/// Adds `spent_nanos` to the usage rows (for `day` and `month`) of the budgets that apply to
/// a call of `agent_id` that held no reservation any more; returns the rows touched, like
/// [`settle`].
pub async fn charge(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    agent_id: Uuid,
    spent_nanos: i64,
    day: NaiveDate,
    month: NaiveDate,
) -> sqlx::Result<Vec<SettledUsage>> {
    settled_rows!(
        returning r#"with locked as materialized (
             select u.budget_id, u.period, u.period_start
             from agents.budget_usage u join agents.budgets b on b.id = u.budget_id
             where b.tenant_id = $1 and (b.agent_id is null or b.agent_id = $2)
               and ((u.period = 'day' and u.period_start = $4)
                 or (u.period = 'month' and u.period_start = $5))
             order by u.budget_id, u.period
             for update of u)
         update agents.budget_usage u
         set spent_nanos = u.spent_nanos + $3
         from locked, agents.budgets b
         where b.id = u.budget_id and u.budget_id = locked.budget_id
           and u.period = locked.period and u.period_start = locked.period_start"#,
        tenant_id,
        agent_id,
        spent_nanos,
        day,
        month
    )
    .fetch_all(conn)
    .await
}

/// The budgets of `tenant_id` that set a limit: `None` for the tenant's own, else the agent's.
pub async fn limited_scopes(pool: &PgPool, tenant_id: Uuid) -> sqlx::Result<Vec<Option<Uuid>>> {
    sqlx::query_scalar!(
        "select agent_id from agents.budgets
         where tenant_id = $1
           and (daily_limit_nanos is not null or monthly_limit_nanos is not null)",
        tenant_id
    )
    .fetch_all(pool)
    .await
}

/// One budget's usage row of one period, with that period's limit, as a reservation saw it
/// (before adding to it).
#[derive(Debug, Clone)]
pub struct LockedUsage {
    pub budget_id: Uuid,
    pub agent_id: Option<Uuid>,
    pub period: BudgetPeriod,
    pub limit_nanos: i64,
    pub spent_nanos: i64,
    pub reserved_nanos: i64,
}

/// Creates the missing usage rows of the budgets that apply to a call of `agent_id` (the
/// tenant's and the agent's, for each period with a limit), starting from what the period's
/// cost records already add up to (`on conflict` covers a concurrent first call). Locks
/// nothing that exists: after a period's first call it only checks that the rows are there.
pub async fn ensure_usage(
    pool: &PgPool,
    tenant_id: Uuid,
    agent_id: Uuid,
    day: NaiveDate,
    month: NaiveDate,
) -> sqlx::Result<()> {
    sqlx::query!(
        r#"insert into agents.budget_usage (budget_id, period, period_start, spent_nanos)
         select b.id, p.period, p.period_start,
                coalesce((select sum(h.cost_nanos) from agents.cost_hourly h
                          where h.tenant_id = b.tenant_id
                            and (b.agent_id is null or h.agent_id = b.agent_id)
                            and h.hour >= p.period_start::timestamp at time zone 'UTC'
                            and h.hour < p.period_end::timestamp at time zone 'UTC'), 0)::bigint
         from agents.budgets b
         cross join lateral (values
             ('day', $3::date, $3::date + 1, b.daily_limit_nanos),
             ('month', $4::date, ($4::date + interval '1 month')::date, b.monthly_limit_nanos))
             as p (period, period_start, period_end, limit_nanos)
         where b.tenant_id = $1 and (b.agent_id is null or b.agent_id = $2)
           and p.limit_nanos is not null
           -- the sum above is computed only for a period's first call
           and not exists (select 1 from agents.budget_usage e
                           where e.budget_id = b.id and e.period = p.period
                             and e.period_start = p.period_start)
         on conflict do nothing"#,
        tenant_id,
        agent_id,
        day,
        month
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// A reservation attempt: the usage rows that apply (as they were before it) and whether it
/// fit in all of them (then it was added to each and recorded).
#[derive(Debug, Clone)]
pub struct Attempt {
    pub usage: Vec<LockedUsage>,
    pub reserved: bool,
}

/// In one statement (its own transaction, so the rows stay locked only while it runs and
/// commits): locks the usage rows of the budgets that apply to `reservation`'s call in key
/// order (concurrent callers cannot deadlock), and if `spent + reserved + amount <= limit`
/// holds for every one, adds the amount to their `reserved` and records the reservation.
pub async fn try_reserve(
    pool: &PgPool,
    tenant_id: Uuid,
    agent_id: Uuid,
    reservation: &Reservation,
) -> sqlx::Result<Attempt> {
    let rows = sqlx::query!(
        r#"with locked as materialized (
             select u.budget_id, b.agent_id, u.period, u.period_start,
                    (case u.period when 'day' then b.daily_limit_nanos
                                   else b.monthly_limit_nanos end) as limit_nanos,
                    u.spent_nanos, u.reserved_nanos
             from agents.budget_usage u join agents.budgets b on b.id = u.budget_id
             where b.tenant_id = $1 and (b.agent_id is null or b.agent_id = $2)
               and ((u.period = 'day' and u.period_start = $3 and b.daily_limit_nanos is not null)
                 or (u.period = 'month' and u.period_start = $4
                     and b.monthly_limit_nanos is not null))
             order by u.budget_id, u.period
             for update of u),
         verdict as (
             select count(*) > 0 and bool_and(spent_nanos + reserved_nanos + $5 <= limit_nanos)
                    as fits
             from locked),
         added as (
             update agents.budget_usage u set reserved_nanos = u.reserved_nanos + $5
             from locked, verdict
             where verdict.fits and u.budget_id = locked.budget_id
               and u.period = locked.period and u.period_start = locked.period_start
             returning u.budget_id),
         recorded as (
             insert into agents.budget_reservations (id, execution_id, amount_nanos, day, month,
                     budget_ids)
             select $6, $7, $5, $3, $4, array_agg(distinct budget_id) from added
             having count(*) > 0)
         select locked.budget_id, locked.agent_id, locked.period as "period: BudgetPeriod",
                locked.limit_nanos as "limit_nanos!", locked.spent_nanos, locked.reserved_nanos,
                verdict.fits as "fits!"
         from locked, verdict"#,
        tenant_id,
        agent_id,
        reservation.day,
        reservation.month,
        reservation.amount_nanos,
        reservation.id,
        reservation.execution_id
    )
    .fetch_all(pool)
    .await?;
    let reserved = rows.first().is_some_and(|r| r.fits);
    Ok(Attempt {
        usage: rows
            .into_iter()
            .map(|r| LockedUsage {
                budget_id: r.budget_id,
                agent_id: r.agent_id,
                period: r.period,
                limit_nanos: r.limit_nanos,
                spent_nanos: r.spent_nanos,
                reserved_nanos: r.reserved_nanos,
            })
            .collect(),
        reserved,
    })
}

/// A call's reservation.
#[derive(Debug, Clone)]
pub struct Reservation {
    pub id: Uuid,
    pub execution_id: Uuid,
    pub amount_nanos: i64,
    pub day: NaiveDate,
    pub month: NaiveDate,
}

/// A usage row after a settlement, with what its alerts need.
#[derive(Debug, Clone)]
pub struct SettledUsage {
    pub budget_id: Uuid,
    pub tenant_id: Uuid,
    pub agent_id: Option<Uuid>,
    pub period: BudgetPeriod,
    pub period_start: NaiveDate,
    pub spent_nanos: i64,
    pub limit_nanos: Option<i64>,
    pub alert_threshold: f64,
}

/// Ends the reservation `id` (if it is still held): its amount leaves `reserved` and
/// `spent_nanos` (the call's actual cost, 0 for a release) joins `spent`. Returns the usage
/// rows touched; none when there was no such reservation (settling twice is a no-op).
pub async fn settle(
    conn: &mut PgConnection,
    id: Uuid,
    spent_nanos: i64,
) -> sqlx::Result<Vec<SettledUsage>> {
    settled_rows!(
        returning r#"with ended as (
             delete from agents.budget_reservations where id = $1
             returning amount_nanos, day, month, budget_ids),
         -- Locked in key order, as a reservation locks them: no deadlock between the two.
         locked as materialized (
             select u.budget_id, u.period, u.period_start, ended.amount_nanos
             from agents.budget_usage u, ended
             where u.budget_id = any(ended.budget_ids)
               and ((u.period = 'day' and u.period_start = ended.day)
                 or (u.period = 'month' and u.period_start = ended.month))
             order by u.budget_id, u.period
             for update of u)
         update agents.budget_usage u
         set reserved_nanos = u.reserved_nanos - locked.amount_nanos,
             spent_nanos = u.spent_nanos + $2
         from locked, agents.budgets b
         where b.id = u.budget_id and u.budget_id = locked.budget_id
           and u.period = locked.period and u.period_start = locked.period_start"#,
        id,
        spent_nanos
    )
    .fetch_all(conn)
    .await
}

/// Releases every reservation still held by the executions `ids` (their process died): the
/// usage rows are locked in key order by each settlement, one reservation at a time.
pub async fn release_of_executions(conn: &mut PgConnection, ids: &[Uuid]) -> sqlx::Result<()> {
    let held = sqlx::query_scalar!(
        "select id from agents.budget_reservations where execution_id = any($1) order by id",
        ids
    )
    .fetch_all(&mut *conn)
    .await?;
    for id in held {
        settle(&mut *conn, id, 0).await?;
    }
    Ok(())
}

/// Records an alert; `false` when it had already been raised for that period.
pub async fn raise_alert(
    conn: &mut PgConnection,
    budget_id: Uuid,
    period: BudgetPeriod,
    period_start: NaiveDate,
    kind: AlertKind,
) -> sqlx::Result<bool> {
    let inserted = sqlx::query!(
        "insert into agents.budget_alerts (budget_id, period, period_start, kind)
         values ($1, $2, $3, $4) on conflict do nothing",
        budget_id,
        period as BudgetPeriod,
        period_start,
        kind as AlertKind
    )
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// An alert raised in a period.
#[derive(Debug, Clone)]
pub struct AlertRow {
    pub kind: AlertKind,
    pub period: BudgetPeriod,
    pub created_at: DateTime<Utc>,
}

/// The alerts of `budget_id` raised in the current day and month.
pub async fn alerts(
    pool: &PgPool,
    budget_id: Uuid,
    day: NaiveDate,
    month: NaiveDate,
) -> sqlx::Result<Vec<AlertRow>> {
    sqlx::query_as!(
        AlertRow,
        r#"select kind as "kind: AlertKind", period as "period: BudgetPeriod", created_at
         from agents.budget_alerts
         where budget_id = $1
           and ((period = 'day' and period_start = $2) or (period = 'month' and period_start = $3))
         order by created_at"#,
        budget_id,
        day,
        month
    )
    .fetch_all(pool)
    .await
}

/// What the cost records of `tenant_id` (or only `agent_id`'s) add up to since the start of
/// the UTC day `from`, read from the hourly roll-up (a day starts on the hour, so it is exact).
pub async fn spent_since(
    pool: &PgPool,
    tenant_id: Uuid,
    agent_id: Option<Uuid>,
    from: NaiveDate,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"select coalesce(sum(cost_nanos), 0)::bigint as "spent!" from agents.cost_hourly
         where tenant_id = $1 and ($2::uuid is null or agent_id = $2)
           and hour >= $3::date::timestamp at time zone 'UTC'"#,
        tenant_id,
        agent_id,
        from
    )
    .fetch_one(pool)
    .await
}
