//! (being written)

use axum::Router;

use super::Ui;

pub(crate) fn routes(_prefix: &str) -> Router<Ui> {
    Router::new()
}
