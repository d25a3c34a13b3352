//! Serving the dashboard: the built single-page app (`dashboard/dist`) at `/`, with
//! `index.html` for every client-side route (`/apps/…`, `/portal`), so a reload or a
//! portal link lands in the app. Paths under `/api` and `/admin` never fall through to
//! it: an unknown API route stays a JSON `404` with a code.

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};

use crate::ApiState;

/// The router's fallback: the dashboard's files, or the API's `404`.
pub async fn fallback(State(state): State<ApiState>, request: Request) -> Response {
    let path = request.uri().path();
    let api_path = ["/api", "/admin"].iter().any(|prefix| path == *prefix || path.starts_with(&format!("{prefix}/")));
    let Some(dir) = state.config.dashboard_dir.as_ref().filter(|_| !api_path) else {
        return crate::routes::not_found().await.into_response();
    };
    let files = ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html")));
    match files.oneshot(request).await {
        Ok(response) => response.map(axum::body::Body::new),
        Err(never) => match never {},
    }
}
