//! A service's routes and its OpenAPI document, written from one table: each route with the
//! method and handler of every operation on it, so that every route served is documented and
//! every documented operation is served.

/// Writes, in the calling module (the parent of the handler modules), `routes(state)` (the
/// service's router, without the shared layers), `openapi()` (its document, with the SPEC §2
/// error schemas and the bearer scheme) and `Call<P, X>`, the service's
/// [`Allowed`](crate::access::Allowed) extractor its handlers take.
///
/// ```ignore
/// temponest_platform::api_table! {
///     service: "webhooks",
///     state: AppState,
///     title: "TempoNest webhooks",
///     description: "Webhook endpoints, signed deliveries with retries, and application events.",
///     endpoints {
///         "/webhooks" => post(create), get(list);
///         "/webhooks/{id}" => get(get), patch(update), delete(delete);
///     }
/// }
/// ```
#[macro_export]
macro_rules! api_table {
    (
        service: $service:literal,
        state: $state:ty,
        title: $title:tt,
        description: $description:tt,
        $($module:ident { $($path:literal => $($method:ident($handler:ident)),+;)+ })+
    ) => {
        /// A route's caller, allowed `P`, with the service's state and the request's input `X`.
        pub type Call<P, X = ()> = $crate::access::Allowed<$state, P, X>;

        #[doc = concat!("The ", $service, " service's routes (without shared layers).")]
        pub fn routes(state: $state) -> ::axum::Router {
            ::axum::Router::new()
                $($(.route(
                    $path,
                    ::axum::routing::MethodRouter::new()$(.$method($module::$handler))+,
                ))+)+
                .with_state(state)
        }

        // `modifiers` takes a bare name.
        use temponest_web::docs::BearerAuth;

        #[derive(::utoipa::OpenApi)]
        #[openapi(
            info(title = $title, description = $description),
            paths($($($($module::$handler),+),+),+),
            components(schemas(temponest_web::error::ErrorBody, temponest_web::FieldError)),
            modifiers(&BearerAuth),
        )]
        struct ApiDoc;

        #[doc = concat!("The ", $service, " service's OpenAPI document.")]
        pub fn openapi() -> ::utoipa::openapi::OpenApi {
            <ApiDoc as ::utoipa::OpenApi>::openapi()
        }
    };
}
