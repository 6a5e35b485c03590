//! Tenants' own prices, cached with the agent configuration (two tiers, every replica): read
//! for every model call a run prices, dropped on every replica when a tenant changes
//! or removes one.

use std::sync::Arc;

use temponest_cache::categories::AGENT_CONFIG;
use uuid::Uuid;

use crate::db::costs;
use crate::domain::pricing::Price;
use crate::state::AppState;

/// The tenant's price could not be read (the database failed; nothing was cached).
#[derive(Debug, Clone, thiserror::Error)]
#[error("could not read the tenant's price override: {0}")]
pub struct PriceLookupError(Arc<sqlx::Error>);

/// The tenant's own price for a model, if it set one.
pub async fn tenant_price(
    state: &AppState,
    tenant_id: Uuid,
    model: &str,
) -> Result<Option<Price>, PriceLookupError> {
    let pool = state.pool.clone();
    let model_owned = model.to_owned();
    state
        .cache
        .get_or_load(
            &AGENT_CONFIG,
            &price_cache_key(tenant_id, model),
            || async move {
                costs::price_override(&pool, tenant_id, &model_owned)
                    .await
                    .map_err(|e| PriceLookupError(Arc::new(e)))
            },
        )
        .await
}

/// Drops the cached price of a model on every replica (after it was set or removed).
pub async fn forget_tenant_price(state: &AppState, tenant_id: Uuid, model: &str) {
    state
        .cache
        .invalidate(&AGENT_CONFIG, &price_cache_key(tenant_id, model))
        .await;
}

/// Cache key of a tenant's price override for a model.
fn price_cache_key(tenant_id: Uuid, model: &str) -> String {
    format!("price:{tenant_id}:{model}")
}
