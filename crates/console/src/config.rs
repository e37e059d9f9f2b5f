//! How the console is configured: the office's time zone, the address people reach it at,
//! and whether its cookies are marked `Secure`.

/// The console's configuration.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// Times are shown in this zone (`--timezone`, default `Asia/Shanghai`); stored times stay
    /// UTC.
    pub timezone: chrono_tz::Tz,
    /// The address people reach the service at, e.g. `https://caseledger.example.org`
    /// (`--public-url`): setup links start with it, and a form's `Origin` must be it. `None`:
    /// the request's own `Host` is taken as the origin.
    pub public_url: Option<String>,
    /// Whether cookies carry `Secure` (the public URL is `https://`).
    pub secure_cookies: bool,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            timezone: chrono_tz::Asia::Shanghai,
            public_url: None,
            secure_cookies: false,
        }
    }
}

impl ConsoleConfig {
    /// The configuration for a service reached at `public_url`, showing times in `timezone`.
    pub fn new(timezone: chrono_tz::Tz, public_url: Option<String>) -> ConsoleConfig {
        let public_url = public_url.map(|url| url.trim_end_matches('/').to_owned());
        let secure_cookies = public_url
            .as_deref()
            .is_some_and(|url| url.starts_with("https://"));
        ConsoleConfig {
            timezone,
            public_url,
            secure_cookies,
        }
    }
}
