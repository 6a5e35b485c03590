//! `/openapi.json` and the `/docs` Swagger UI, served from assets embedded in the binary
//! (utoipa-swagger-ui `vendored`), so no network is needed at build or run time.
//!
//! The errors the shared stack answers for every route are documented here once
//! ([`document_errors`]) rather than on each `#[utoipa::path]`: every error response carries
//! the SPEC §2 [`ErrorBody`](crate::error::ErrorBody), every route can be rate limited (429),
//! authenticated routes answer 401, routes with a path id 404 and routes with a body or query
//! parameters 422; routes with a body answer 415 to another content type, and those taking
//! JSON 400 to a body that is not JSON. The pagination parameters (`skip`, `limit`, `page`,
//! `page_size`) get their bounds and defaults here too, since one extractor checks them all.

use axum::Router;
use utoipa::Number;
use utoipa::openapi::path::{Operation, Parameter, ParameterIn};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::{Content, OpenApi, Ref, RefOr};
use utoipa_swagger_ui::{Config, SwaggerUi, Url};

/// Routes serving the given (possibly merged) OpenAPI document, completed by
/// [`document_errors`].
pub fn router<S: Clone + Send + Sync + 'static>(openapi: OpenApi) -> Router<S> {
    router_offering(openapi, &[])
}

/// [`router`], where the `/docs` page offers the documents `urls` (`(name, url)`, in the
/// order of its selector) instead of this one alone: behind an edge proxy, every service's
/// document. `/openapi.json` still serves this process's document.
pub fn router_offering<S: Clone + Send + Sync + 'static>(
    mut openapi: OpenApi,
    urls: &[(String, String)],
) -> Router<S> {
    document_errors(&mut openapi);
    let ui = SwaggerUi::new("/docs").url("/openapi.json", openapi);
    if urls.is_empty() {
        return Router::from(ui);
    }
    // Swagger UI's configuration borrows its names for as long as the page is served: the
    // process's life. A few configured strings, once per process.
    let urls = urls
        .iter()
        .map(|(name, url)| Url::new(name.clone().leak(), url.clone().leak()));
    Router::from(ui.config(Config::new(urls)))
}

/// Adds what the shared stack answers to every operation (see the module doc) and the
/// `ErrorBody` schema to every 4xx/5xx response that declares no content.
pub fn document_errors(openapi: &mut OpenApi) {
    use utoipa::PartialSchema;
    let components = openapi.components.get_or_insert_with(Default::default);
    for (name, schema) in [
        ("ErrorBody", crate::error::ErrorBody::schema()),
        ("FieldError", crate::error::FieldError::schema()),
    ] {
        components.schemas.entry(name.to_owned()).or_insert(schema);
    }
    for item in openapi.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ];
        for operation in operations.into_iter().flatten() {
            document_operation_errors(operation);
        }
    }
}

fn document_operation_errors(operation: &mut Operation) {
    let secured = operation
        .security
        .as_ref()
        .is_some_and(|requirements| !requirements.is_empty());
    let has_parameter_in = |place: ParameterIn| {
        operation
            .parameters
            .iter()
            .flatten()
            .any(|p| matches!(p, RefOr::T(p) if p.parameter_in == place))
    };
    let has_path_parameter = has_parameter_in(ParameterIn::Path);
    let has_body = operation.request_body.is_some();
    let has_input = has_body || has_parameter_in(ParameterIn::Query);
    let takes_json = operation.request_body.as_ref().is_some_and(
        |body| matches!(body, RefOr::T(body) if body.content.contains_key("application/json")),
    );
    document_pagination(operation.parameters.iter_mut().flatten());
    let responses = &mut operation.responses.responses;
    let mut add = |status: &str, when: bool, description: &str| {
        if when {
            responses
                .entry(status.to_owned())
                .or_insert_with(|| RefOr::T(Response::new(description)));
        }
    };
    add("401", secured, "missing, invalid or expired credentials");
    add(
        "404",
        has_path_parameter,
        "no such resource in the caller's tenant",
    );
    add(
        "422",
        has_input,
        "invalid input: a field or query parameter fails validation, holds a NUL character or \
         a number that cannot be stored exactly",
    );
    add(
        "429",
        true,
        "rate limited; retry after `Retry-After` seconds",
    );
    add(
        "415",
        has_body,
        "the body is not of the content type the operation takes",
    );
    add("400", takes_json, "the body is not valid JSON");
    for (status, response) in responses.iter_mut() {
        let is_error = status.starts_with('4') || status.starts_with('5');
        if let (true, RefOr::T(response)) = (is_error, response)
            && response.content.is_empty()
        {
            *response = error_response(std::mem::take(response));
        }
    }
}

/// Bounds and meaning of the pagination parameters, as [`crate::extract::Pagination`] checks
/// them: `skip` ≥ 0, the others ≥ 1, and a page size above the maximum clamped to it.
fn document_pagination<'a>(parameters: impl Iterator<Item = &'a mut RefOr<Parameter>>) {
    use crate::extract::{DEFAULT_LIMIT, MAX_LIMIT};
    for parameter in parameters {
        let RefOr::T(parameter) = parameter else {
            continue;
        };
        if parameter.parameter_in != ParameterIn::Query {
            continue;
        }
        let (minimum, description) = match parameter.name.as_str() {
            "skip" => (0, "items to skip (default 0)".to_owned()),
            "limit" | "page_size" => (
                1,
                format!(
                    "page size (default {DEFAULT_LIMIT}; a larger one is clamped to {MAX_LIMIT})"
                ),
            ),
            "page" => (1, "page number, from 1 (with `page_size`)".to_owned()),
            _ => continue,
        };
        if let Some(RefOr::T(Schema::Object(schema))) = &mut parameter.schema {
            schema.minimum = Some(Number::Int(minimum));
        }
        parameter.description.get_or_insert(description);
    }
}

fn error_response(response: Response) -> Response {
    let description = if response.description.is_empty() {
        "error".to_owned()
    } else {
        response.description
    };
    let mut builder = ResponseBuilder::new().description(description).content(
        "application/json",
        Content::new(Some(Ref::from_schema_name("ErrorBody"))),
    );
    for (name, header) in response.headers {
        if let RefOr::T(header) = header {
            builder = builder.header(name, header);
        }
    }
    builder.build()
}

/// Declares the `bearer` security scheme (JWT access token or API key) that every
/// authenticated path of the services refers to. Use as `modifiers(&BearerAuth)`.
pub struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some("JWT access token or API key (sk_...)"))
                        .build(),
                ),
            );
    }
}
