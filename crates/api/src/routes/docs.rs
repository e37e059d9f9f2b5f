//! The interactive API documentation at `/docs`: Swagger UI, served from files compiled into
//! the binary, so it works without internet (many government networks have none).
//!
//! The Swagger UI files come unmodified from the `swagger-ui-dist` npm package (Apache-2.0; its
//! LICENSE and NOTICE sit beside them in `assets/swagger-ui/`).

use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

const SWAGGER_UI_BUNDLE: &[u8] = include_bytes!("../../assets/swagger-ui/swagger-ui-bundle.js");
const SWAGGER_UI_CSS: &[u8] = include_bytes!("../../assets/swagger-ui/swagger-ui.css");

const DOCS_PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>caseledger API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      url: "/openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      persistAuthorization: true
    });
  </script>
</body>
</html>
"##;

/// The interactive API documentation (Swagger UI over `/openapi.json`). The page and its
/// script and style are served from the binary, so it works without internet.
#[utoipa::path(get, path = "/docs", tag = "system",
    responses((status = 200, description = "The docs page.", content_type = "text/html", body = String)))]
pub async fn docs_page() -> Html<&'static str> {
    Html(DOCS_PAGE)
}

/// `/docs` and its assets (the assets are files of the page, not operations of the API: the
/// document does not list them).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(docs_page))
        .route(
            "/docs/swagger-ui-bundle.js",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                        (header::CACHE_CONTROL, "public, max-age=86400"),
                    ],
                    SWAGGER_UI_BUNDLE,
                )
                    .into_response()
            }),
        )
        .route(
            "/docs/swagger-ui.css",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/css; charset=utf-8"),
                        (header::CACHE_CONTROL, "public, max-age=86400"),
                    ],
                    SWAGGER_UI_CSS,
                )
                    .into_response()
            }),
        )
}
