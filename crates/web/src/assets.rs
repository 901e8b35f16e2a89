//! The stylesheet and scripts, compiled into the binary. Each is served at a path that carries a
//! hash of its content, so a browser may cache it for a year and still never runs a stale copy.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use crate::WebState;

/// One file served under `/assets/`.
pub struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

pub const STYLESHEET: Asset =
    Asset { name: "app.css", content_type: "text/css; charset=utf-8", bytes: include_bytes!("../assets/app.css") };
pub const SORTABLE: Asset = Asset {
    name: "Sortable.min.js",
    content_type: "text/javascript; charset=utf-8",
    bytes: include_bytes!("../assets/vendor/Sortable.min.js"),
};

pub const BOARD_SCRIPT: Asset =
    Asset { name: "board.js", content_type: "text/javascript; charset=utf-8", bytes: include_bytes!("../assets/board.js") };

pub const NOTICE_SCRIPT: Asset =
    Asset { name: "notice.js", content_type: "text/javascript; charset=utf-8", bytes: include_bytes!("../assets/notice.js") };

pub const SETTINGS_SCRIPT: Asset =
    Asset { name: "settings.js", content_type: "text/javascript; charset=utf-8", bytes: include_bytes!("../assets/settings.js") };

const ALL: [&Asset; 5] = [&STYLESHEET, &SORTABLE, &BOARD_SCRIPT, &NOTICE_SCRIPT, &SETTINGS_SCRIPT];

/// `/assets/{hash}-{name}` for each asset of [`ALL`], in its order, computed once.
static URLS: LazyLock<Vec<String>> = LazyLock::new(|| ALL.iter().map(|asset| format!("/assets/{}", asset.file_name())).collect());

impl Asset {
    /// The path a page links to.
    pub fn url(&self) -> &'static str {
        let index = ALL.iter().position(|asset| asset.name == self.name).expect("every asset is listed in ALL");
        &URLS[index]
    }

    /// The bytes a page using this asset makes a browser download, for the size budget.
    #[cfg(test)]
    pub fn size(&self) -> usize {
        self.bytes.len()
    }

    fn file_name(&self) -> String {
        let digest = Sha256::digest(self.bytes);
        let hash: String = digest[..6].iter().map(|byte| format!("{byte:02x}")).collect();
        format!("{hash}-{}", self.name)
    }
}

pub fn routes() -> Router<WebState> {
    Router::new().route("/assets/{file}", get(serve))
}

async fn serve(Path(file): Path<String>) -> Response {
    let requested = format!("/assets/{file}");
    match ALL.iter().zip(URLS.iter()).find(|(_, url)| **url == requested) {
        Some((asset, _)) => {
            ([(header::CONTENT_TYPE, asset.content_type), (header::CACHE_CONTROL, "public, max-age=31536000, immutable")], asset.bytes)
                .into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_the_content() {
        assert!(SORTABLE.url().starts_with("/assets/") && SORTABLE.url().ends_with("-Sortable.min.js"));
        assert_ne!(BOARD_SCRIPT.url(), SORTABLE.url());
        assert_eq!(STYLESHEET.url(), format!("/assets/{}", STYLESHEET.file_name()));
        assert!(ALL.iter().all(|asset| asset.size() > 0));
    }
}
