//! `/costs/prices`: the price table in effect for the caller's tenant (shipped table version
//! plus the tenant's own prices) and the tenant's overrides.

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use temponest_web::extract::ApiQuery;
use temponest_web::{ApiError, ApiResult, FieldError, Json};
use utoipa::ToSchema;

use crate::db::costs;
use crate::domain::price_cache::forget_tenant_price;
use crate::domain::pricing::Price;
use crate::routes::Call;
use temponest_platform::access::{CostsManage, CostsRead};

/// One model's price.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ModelPrice {
    pub model: String,
    pub input_usd_per_mtok: f64,
    pub output_usd_per_mtok: f64,
}

/// The prices that apply to the caller's tenant.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PricesOut {
    /// Version of the shipped price table.
    pub version: String,
    pub models: Vec<ModelPrice>,
    /// The tenant's own prices; they win over the table.
    pub overrides: Vec<ModelPrice>,
    /// Providers whose calls cost nothing per token (self-hosted).
    pub self_hosted_kinds: Vec<String>,
}

/// The price table and the tenant's overrides.
#[utoipa::path(get, path = "/costs/prices", operation_id = "list_prices", tag = "costs", security(("bearer" = [])),
    responses((status = 200, body = PricesOut), (status = 403)))]
pub async fn list(call: Call<CostsRead>) -> ApiResult<Json<PricesOut>> {
    let (state, principal, ()) = call.into_parts();
    let overrides = costs::price_overrides(&state.pool, principal.tenant_id).await?;
    Ok(Json(PricesOut {
        version: state.prices.version.clone(),
        models: state.prices.entries().into_iter().map(to_out).collect(),
        overrides: overrides.into_iter().map(to_out).collect(),
        self_hosted_kinds: vec!["ollama".into(), "echo".into()],
    }))
}

/// Sets the tenant's price for a model (including models the table does not know).
#[utoipa::path(put, path = "/costs/prices", operation_id = "set_price", tag = "costs", request_body = ModelPrice, security(("bearer" = [])),
    responses((status = 200, body = ModelPrice), (status = 403), (status = 422)))]
pub async fn set(call: Call<CostsManage, Json<ModelPrice>>) -> ApiResult<Json<ModelPrice>> {
    let (state, principal, Json(body)) = call.into_parts();
    let model = body.model.trim().to_owned();
    let mut errors = Vec::new();
    if model.is_empty() || model.chars().count() > 200 {
        errors.push(FieldError::new("model", "must be 1 to 200 characters"));
    }
    for (field, value) in [
        ("input_usd_per_mtok", body.input_usd_per_mtok),
        ("output_usd_per_mtok", body.output_usd_per_mtok),
    ] {
        if !value.is_finite() || !(0.0..=1_000_000.0).contains(&value) {
            errors.push(FieldError::new(field, "must be between 0 and 1000000"));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let price = Price {
        input_usd_per_mtok: body.input_usd_per_mtok,
        output_usd_per_mtok: body.output_usd_per_mtok,
    };
    costs::set_price_override(&state.pool, principal.tenant_id, &model, price).await?;
    forget_tenant_price(&state, principal.tenant_id, &model).await;
    Ok(Json(to_out((model, price))))
}

/// `DELETE /costs/prices?model=...`.
#[derive(Debug, Deserialize)]
pub struct ModelQuery {
    pub model: Option<String>,
}

/// Removes the tenant's price for a model (the table applies again).
#[utoipa::path(delete, path = "/costs/prices", operation_id = "delete_price", tag = "costs", security(("bearer" = [])),
    params(("model" = String, Query)),
    responses((status = 204), (status = 403), (status = 404), (status = 422)))]
pub async fn delete(call: Call<CostsManage, ApiQuery<ModelQuery>>) -> ApiResult<StatusCode> {
    let (state, principal, ApiQuery(query)) = call.into_parts();
    let model = query
        .model
        .filter(|m| !m.trim().is_empty())
        .ok_or_else(|| ApiError::invalid_field("model", "is required"))?;
    if costs::delete_price_override(&state.pool, principal.tenant_id, model.trim()).await? {
        forget_tenant_price(&state, principal.tenant_id, model.trim()).await;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("price override"))
    }
}

fn to_out((model, price): (String, Price)) -> ModelPrice {
    ModelPrice {
        model,
        input_usd_per_mtok: price.input_usd_per_mtok,
        output_usd_per_mtok: price.output_usd_per_mtok,
    }
}
