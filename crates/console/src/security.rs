//! The console's defences that are not about who is asking: the `Origin` check of every posted
//! form (with the form token of `session.rs` and `SameSite=Strict` cookies, the three guards
//! against cross-site requests), and the headers every console answer carries — a
//! Content-Security-Policy that allows no inline script and nothing from another host, no
//! framing, no sniffing, no referrer to another host, no caching of pages that may hold
//! personal data.

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use crate::config::ConsoleConfig;
use crate::error::ConsoleError;

/// The Content-Security-Policy of every console answer.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; font-src 'self'; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// Refuses a form posted from another origin: its `Origin` header (browsers send it with every
/// POST) must be the console's own — the public URL when one is configured, else the scheme
/// and `Host` of the request. Without `Origin`, `Sec-Fetch-Site` must not say `cross-site`.
pub fn check_origin(headers: &HeaderMap, config: &ConsoleConfig) -> Result<(), ConsoleError> {
    let site = headers
        .get("sec-fetch-site")
        .and_then(|value| value.to_str().ok());
    if site == Some("cross-site") {
        return Err(ConsoleError::ForgedForm);
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().map_err(|_| ConsoleError::ForgedForm)?;
    let base = base_url(headers, config).ok_or(ConsoleError::ForgedForm)?;
    let expected = origin_of(&base);
    if origin.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        tracing::warn!(%origin, "a console form from another origin was refused");
        Err(ConsoleError::ForgedForm)
    }
}

/// Where people reach the console: the public URL when one is configured, else the scheme and
/// `Host` of the request (`None` without a `Host`). Setup links start with it.
pub fn base_url(headers: &HeaderMap, config: &ConsoleConfig) -> Option<String> {
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok());
    let scheme = if config.secure_cookies {
        "https"
    } else {
        "http"
    };
    caseledger_app::public_base(config.public_url.as_deref(), host, scheme)
}

/// The scheme, host and port of a URL (what an `Origin` header holds).
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |at| at + 3);
    match url[after_scheme..].find('/') {
        Some(slash) => &url[..after_scheme + slash],
        None => url,
    }
}

/// Adds the security headers to every console answer.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // `same-origin`, not `no-referrer`: under `no-referrer` browsers send `Origin: null` with
    // every form (Fetch, "serializing a request origin"), which `check_origin` rightly
    // refuses, so no form could be posted from a real browser. The referrer (a setup link
    // holds a secret in its path) still never leaves for another host.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")]

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn a_form_from_the_consoles_own_origin_passes_and_any_other_is_refused() {
        let config = ConsoleConfig::default();
        let own = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
        ]);
        assert!(check_origin(&own, &config).is_ok());
        let other = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://evil.example"),
        ]);
        assert!(check_origin(&other, &config).is_err());
        let null = headers(&[("host", "127.0.0.1:8080"), ("origin", "null")]);
        assert!(check_origin(&null, &config).is_err());
        let cross = headers(&[("host", "127.0.0.1:8080"), ("sec-fetch-site", "cross-site")]);
        assert!(check_origin(&cross, &config).is_err());
        let no_origin = headers(&[("host", "127.0.0.1:8080")]);
        assert!(check_origin(&no_origin, &config).is_ok());
    }

    #[test]
    fn behind_a_public_url_its_origin_is_the_one_expected() {
        let config = ConsoleConfig::new(chrono_tz::UTC, Some("https://cl.example.org/base".into()));
        let ok = headers(&[
            ("host", "10.0.0.5:8080"),
            ("origin", "https://cl.example.org"),
        ]);
        assert!(check_origin(&ok, &config).is_ok());
        let internal = headers(&[
            ("host", "10.0.0.5:8080"),
            ("origin", "http://10.0.0.5:8080"),
        ]);
        assert!(check_origin(&internal, &config).is_err());
    }
}
