//! Where people reach the service, for the links it hands out (setup links) and the origin its
//! console's forms must come from: the configured public URL, else the scheme and `Host` a
//! request was sent to — when that `Host` is a plain `host[:port]`, so that a forged header is
//! never echoed into a link. Shared by the API and the console.

/// The public URL when one is configured, else `scheme://host` for a plain `host[:port]`;
/// `None` when neither is at hand.
pub fn public_base(public_url: Option<&str>, host: Option<&str>, scheme: &str) -> Option<String> {
    if let Some(url) = public_url {
        return Some(url.to_owned());
    }
    host.filter(|host| is_plain_host(host))
        .map(|host| format!("{scheme}://{host}"))
}

/// Whether `text` is a plain `host[:port]`: a DNS name or IPv4 address (labels of letters,
/// digits and `-`, 1 to 63 characters, separated by single dots) or a bracketed IPv6 address,
/// then optionally `:` and a port number. No user info, path, spaces or other characters.
pub fn is_plain_host(text: &str) -> bool {
    let (name, port) = if text.starts_with('[') {
        let Some(end) = text.find(']') else {
            return false;
        };
        let (name, rest) = text.split_at(end + 1);
        let port = match rest.strip_prefix(':') {
            Some(port) => Some(port),
            None if rest.is_empty() => None,
            None => return false,
        };
        (name, port)
    } else {
        match text.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (text, None),
        }
    };
    let port_ok = port.is_none_or(|port| {
        (1..=5).contains(&port.len())
            && port.bytes().all(|byte| byte.is_ascii_digit())
            && port.parse::<u16>().is_ok()
    });
    let name_ok = match name
        .strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
    {
        Some(inner) => inner.parse::<std::net::Ipv6Addr>().is_ok(),
        None => {
            (1..=253).contains(&name.len())
                && name.split('.').all(|label| {
                    (1..=63).contains(&label.len())
                        && label
                            .bytes()
                            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
                })
        }
    };
    port_ok && name_ok
}

#[cfg(test)]
mod tests {
    use super::is_plain_host;

    #[test]
    fn only_plain_hosts_and_ports_are_taken_into_links() {
        for host in [
            "localhost",
            "127.0.0.1:8080",
            "caseledger.example.org",
            "caseledger-1.example.org:443",
            "[::1]",
            "[::1]:8080",
        ] {
            assert!(is_plain_host(host), "{host}");
        }
        for host in [
            "",
            ":80",
            "host:",
            "host:http",
            "host:65536",
            "host:80:80",
            "user@host",
            "evil.example/path",
            "evil.example?x",
            "a..b",
            ".example.org",
            "host name",
            "[::1",
            "[not-ipv6]:80",
            "[::1]80",
            "exa\u{301}mple.org",
        ] {
            assert!(!is_plain_host(host), "{host}");
        }
    }
}
