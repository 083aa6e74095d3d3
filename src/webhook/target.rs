//! Where a webhook may go: the URL rules and the defence against
//! server-side request forgery.
//!
//! A seller types a URL and our server calls it, from inside the
//! deployment. Without care that is a way to make the server call
//! `http://127.0.0.1:6379/`, a cloud metadata service at `169.254.169.254`
//! or any machine of the private network. So a webhook URL is `http` or
//! `https` only, carries no user name or password, and its host must be, or
//! resolve only to, public addresses: [`forbidden`] names every class that
//! is refused (loopback, private, link-local, CGNAT, documentation,
//! multicast, broadcast, reserved, unspecified, and IPv6 forms that embed a
//! refused IPv4 address). The check runs when the seller configures the URL
//! and again before every attempt, because what a name resolves to can
//! change (DNS rebinding); the attempt then connects to exactly the
//! addresses it checked ([`Target::addrs`], pinned with reqwest's
//! `resolve_to_addrs`) and follows no redirect.
//!
//! `webhooks.allow_private_targets = true` lifts the address rule (tests,
//! which receive on `127.0.0.1`, and development); the URL rules stay.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use reqwest::Url;

use super::WebhookError;

/// The longest webhook URL accepted.
pub const MAX_URL_BYTES: usize = 2048;

/// A checked destination for one attempt.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: Url,
    /// The host name the addresses were resolved from; `None` when the URL
    /// names an IP address (nothing to pin then: it is the address).
    pub domain: Option<String>,
    /// The addresses the attempt may connect to, every one of them checked.
    pub addrs: Vec<SocketAddr>,
}

/// Parses and checks a webhook URL's form (not yet where it points).
pub fn parse(url: &str) -> Result<Url, WebhookError> {
    let invalid = |message: &str| WebhookError::InvalidUrl(message.to_owned());
    let url = url.trim();
    if url.is_empty() {
        return Err(invalid("url is required"));
    }
    if url.len() > MAX_URL_BYTES {
        return Err(WebhookError::InvalidUrl(format!(
            "url is longer than {MAX_URL_BYTES} bytes"
        )));
    }
    let mut parsed = Url::parse(url).map_err(|error| {
        WebhookError::InvalidUrl(format!("url is not an absolute URL: {error}"))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("a webhook url starts with https:// or http://"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid(
            "a webhook url carries no user name or password (the signature proves the sender)",
        ));
    }
    if parsed.host().is_none() {
        return Err(invalid("a webhook url names a host"));
    }
    // Never sent over HTTP anyway.
    parsed.set_fragment(None);
    Ok(parsed)
}

/// Resolves `url`'s host (within `timeout`) and, unless `allow_private`,
/// refuses it if any address it resolves to is [`forbidden`]: one public
/// answer among private ones does not make a name safe.
pub async fn resolve(
    url: &Url,
    allow_private: bool,
    timeout: Duration,
) -> Result<Target, WebhookError> {
    let port = url
        .port_or_known_default()
        .ok_or_else(|| WebhookError::InvalidUrl("the url has no port".into()))?;
    let (domain, addrs) = match url.host() {
        Some(url::Host::Ipv4(ip)) => (None, vec![SocketAddr::new(IpAddr::V4(ip), port)]),
        Some(url::Host::Ipv6(ip)) => (None, vec![SocketAddr::new(IpAddr::V6(ip), port)]),
        Some(url::Host::Domain(name)) => {
            let lookup = tokio::net::lookup_host((name, port));
            let found: Vec<SocketAddr> = tokio::time::timeout(timeout, lookup)
                .await
                .map_err(|_| {
                    WebhookError::InvalidUrl(format!("{name} did not resolve within {timeout:?}"))
                })?
                .map_err(|error| {
                    WebhookError::InvalidUrl(format!("{name} does not resolve: {error}"))
                })?
                .collect();
            if found.is_empty() {
                return Err(WebhookError::InvalidUrl(format!("{name} has no address")));
            }
            (Some(name.to_owned()), found)
        }
        None => {
            return Err(WebhookError::InvalidUrl(
                "a webhook url names a host".into(),
            ))
        }
    };
    if !allow_private {
        for addr in &addrs {
            if let Some(class) = forbidden(addr.ip()) {
                let host = url.host_str().unwrap_or_default();
                return Err(WebhookError::TargetForbidden(format!(
                    "{host} is {}, a {class} address: webhooks go to public addresses only",
                    addr.ip()
                )));
            }
        }
    }
    Ok(Target {
        url: url.clone(),
        domain,
        addrs,
    })
}

/// Why the server must not call `ip`, or `None` for a public address.
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(ip) => forbidden_v4(ip),
        IpAddr::V6(ip) => forbidden_v6(ip),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    if ip.is_broadcast() {
        return Some("broadcast");
    }
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => "unspecified",
        (10, _, _) | (172, 16..=31, _) | (192, 168, _) => "private",
        (100, 64..=127, _) => "shared (CGNAT)",
        (127, _, _) => "loopback",
        (169, 254, _) => "link-local",
        (192, 0, 0) => "reserved",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (198, 18..=19, _) => "benchmarking",
        (224..=239, _, _) => "multicast",
        (240..=255, _, _) => "reserved",
        _ => return None,
    })
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    // ::ffff:a.b.c.d reaches a.b.c.d.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match s {
        // ::a.b.c.d, IPv4-compatible (deprecated): never a real destination.
        [0, 0, 0, 0, 0, 0, _, _] => Some("reserved"),
        // NAT64 (64:ff9b::/96) reaches the embedded IPv4 address.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => forbidden_v4(embedded(hi, lo)),
        // Local-use NAT64 (64:ff9b:1::/48).
        [0x64, 0xff9b, 1, ..] => Some("private"),
        // Discard-only (100::/64).
        [0x100, 0, 0, 0, ..] => Some("reserved"),
        [0x2001, 0xdb8, ..] => Some("documentation"),
        // IETF protocol assignments (2001::/23), Teredo among them.
        [0x2001, second, ..] if second < 0x200 => Some("reserved"),
        // 6to4 (2002::/16) reaches the embedded IPv4 address.
        [0x2002, hi, lo, ..] => forbidden_v4(embedded(hi, lo)),
        [first, ..] if first & 0xfe00 == 0xfc00 => Some("private"),
        [first, ..] if first & 0xffc0 == 0xfe80 => Some("link-local"),
        // Site-local (fec0::/10, deprecated).
        [first, ..] if first & 0xffc0 == 0xfec0 => Some("private"),
        [first, ..] if first & 0xff00 == 0xff00 => Some("multicast"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(ip: &str) -> Option<&'static str> {
        forbidden(ip.parse().unwrap())
    }

    #[test]
    fn public_addresses_are_allowed() {
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "113.160.0.1",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.169.0.1",
            "2404:6800:4005:80a::200e",
            "2001:4860:4860::8888",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert_eq!(class(ip), None, "{ip}");
        }
    }

    #[test]
    fn loopback_private_link_local_and_cgnat_ipv4_are_refused() {
        for (ip, expected) in [
            ("127.0.0.1", "loopback"),
            ("127.255.255.254", "loopback"),
            ("10.0.0.1", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "shared (CGNAT)"),
            ("100.127.255.255", "shared (CGNAT)"),
        ] {
            assert_eq!(class(ip), Some(expected), "{ip}");
        }
    }

    #[test]
    fn unspecified_broadcast_multicast_documentation_and_reserved_ipv4_are_refused() {
        for (ip, expected) in [
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "unspecified"),
            ("255.255.255.255", "broadcast"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("192.0.2.10", "documentation"),
            ("198.51.100.7", "documentation"),
            ("203.0.113.9", "documentation"),
            ("198.18.0.1", "benchmarking"),
            ("192.0.0.8", "reserved"),
            ("240.0.0.1", "reserved"),
        ] {
            assert_eq!(class(ip), Some(expected), "{ip}");
        }
    }

    #[test]
    fn ipv6_loopback_unique_local_link_local_and_friends_are_refused() {
        for (ip, expected) in [
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fc00::1", "private"),
            ("fd12:3456:789a::1", "private"),
            ("fe80::1", "link-local"),
            ("febf::1", "link-local"),
            ("fec0::1", "private"),
            ("ff02::1", "multicast"),
            ("2001:db8::1", "documentation"),
            ("100::1", "reserved"),
            ("2001::1", "reserved"),
            ("::7f00:1", "reserved"),
        ] {
            assert_eq!(class(ip), Some(expected), "{ip}");
        }
    }

    #[test]
    fn ipv6_forms_of_refused_ipv4_addresses_are_refused() {
        for (ip, expected) in [
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.1.2.3", "private"),
            ("::ffff:169.254.169.254", "link-local"),
            ("64:ff9b::a00:1", "private"),
            ("64:ff9b::7f00:1", "loopback"),
            ("2002:c0a8:101::1", "private"),
            ("2002:7f00:1::", "loopback"),
        ] {
            assert_eq!(class(ip), Some(expected), "{ip}");
        }
    }

    #[test]
    fn only_http_and_https_urls_without_credentials_are_accepted() {
        assert!(parse("https://shop.example.vn/hooks/chophien").is_ok());
        assert!(parse("http://shop.example.vn:8080/h?x=1").is_ok());
        for bad in [
            "",
            "shop.example.vn/hook",
            "ftp://shop.example.vn/",
            "file:///etc/passwd",
            "gopher://127.0.0.1:6379/",
            "https://user:pass@shop.example.vn/",
            "javascript:alert(1)",
        ] {
            assert!(
                matches!(parse(bad), Err(WebhookError::InvalidUrl(_))),
                "{bad:?}"
            );
        }
        let long = format!("https://shop.example.vn/{}", "a".repeat(MAX_URL_BYTES));
        assert!(matches!(parse(&long), Err(WebhookError::InvalidUrl(_))));
    }

    #[tokio::test]
    async fn private_targets_are_refused_unless_allowed() {
        let timeout = Duration::from_secs(5);
        for url in [
            "http://127.0.0.1:9/",
            "http://[::1]/",
            "http://[::ffff:7f00:1]/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://localhost:6379/",
        ] {
            let parsed = parse(url).unwrap();
            assert!(
                matches!(
                    resolve(&parsed, false, timeout).await,
                    Err(WebhookError::TargetForbidden(_))
                ),
                "{url}"
            );
        }
        let local = parse("http://127.0.0.1:9/hook").unwrap();
        let target = resolve(&local, true, timeout).await.unwrap();
        assert_eq!(
            target.addrs,
            vec!["127.0.0.1:9".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(target.domain, None);
    }
}
