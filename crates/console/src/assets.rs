//! The console's static files, embedded in the binary and served under a name that carries
//! a hash of their content (`console.3f2a9c01d4.css`), so browsers may cache them forever
//! (`immutable`) and a new build is fetched at once. The platform's outer layers gzip them.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// One embedded file.
pub struct Asset {
    content_type: &'static str,
    pub bytes: &'static [u8],
    url: LazyLock<String>,
}

impl Asset {
    /// The path pages link to: `/console/assets/<stem>.<10 hex of SHA-256>.<ext>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// [`Asset::url`] of a static asset.
    pub fn url_static(&'static self) -> &'static str {
        &self.url
    }
}

fn hashed_url(stem: &str, ext: &str, bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
    format!("/console/assets/{stem}.{hex}.{ext}")
}

const CSS_BYTES: &[u8] = include_bytes!("../assets/console.css");
const JS_BYTES: &[u8] = include_bytes!("../assets/console.js");

/// The stylesheet (the only one).
pub static CSS: Asset = Asset {
    content_type: "text/css; charset=utf-8",
    bytes: CSS_BYTES,
    url: LazyLock::new(|| hashed_url("console", "css", CSS_BYTES)),
};
/// The script: live updates (EventSource), confirm dialogs, the browser's time zone.
pub static JS: Asset = Asset {
    content_type: "text/javascript; charset=utf-8",
    bytes: JS_BYTES,
    url: LazyLock::new(|| hashed_url("console", "js", JS_BYTES)),
};

/// Every asset.
pub fn all() -> [&'static Asset; 2] {
    [&CSS, &JS]
}

/// `GET /console/assets/{name}`: the asset whose hashed name this is, cached for a year;
/// any other name (an old hash included) is 404.
pub async fn serve(Path(name): Path<String>) -> Response {
    for asset in all() {
        if asset.url().rsplit('/').next() == Some(name.as_str()) {
            return (
                [
                    (header::CONTENT_TYPE, asset.content_type),
                    (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
                ],
                asset.bytes,
            )
                .into_response();
        }
    }
    (axum::http::StatusCode::NOT_FOUND, "no such asset").into_response()
}
