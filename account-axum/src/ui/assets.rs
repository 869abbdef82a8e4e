//! The pages' stylesheet and script, compiled into the binary and served under names that
//! carry a digest of their content, so that browsers may keep them for a year and a new
//! release is fetched at once.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// One embedded file.
#[derive(Debug)]
pub(crate) struct Asset {
    /// The name it is served under: `account.3f2a9c1b.css`.
    pub(crate) name: String,
    content_type: &'static str,
    body: &'static [u8],
}

impl Asset {
    fn new(stem: &str, extension: &str, content_type: &'static str, body: &'static [u8]) -> Asset {
        let digest = Sha256::digest(body);
        let short: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        Asset {
            name: format!("{stem}.{short}.{extension}"),
            content_type,
            body,
        }
    }
}

/// The stylesheet of every page.
pub(crate) static STYLESHEET: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "account",
        "css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/account.css"),
    )
});

/// The script of every page: progressive enhancement only (passkey ceremonies, copy
/// buttons, confirmations); every form works without it.
pub(crate) static SCRIPT: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "account",
        "js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/account.js"),
    )
});

/// `GET {prefix}/assets/{name}`: an embedded file by its content-addressed name. Any
/// other name (an old digest included) is a 404, so a cached page never gets a file it
/// was not made with.
pub(crate) async fn serve(Path(name): Path<String>) -> Response {
    for asset in [&*STYLESHEET, &*SCRIPT] {
        if asset.name == name {
            return (
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static(asset.content_type),
                    ),
                    (
                        header::CACHE_CONTROL,
                        HeaderValue::from_static("public, max-age=31536000, immutable"),
                    ),
                ],
                asset.body,
            )
                .into_response();
        }
    }
    StatusCode::NOT_FOUND.into_response()
}
