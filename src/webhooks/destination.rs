//! Where a webhook may be sent: an `https` URL whose host resolves only to
//! public addresses (no loopback, private, link-local, unique-local or
//! otherwise special network), checked when an endpoint is created or
//! changed and again before every send, because what a name resolves to
//! can change after it was checked (DNS rebinding). The sender connects to
//! the very address it checked, never resolving the name a second time.
//! `WEBHOOK_ALLOW_INSECURE=true` lifts both rules, for `dev` and tests.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Name(String),
    Ip(IpAddr),
}

/// A parsed webhook URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub scheme: Scheme,
    pub host: Host,
    pub port: u16,
    /// What follows the authority, `/` when nothing does.
    pub path_and_query: String,
}

impl Destination {
    /// The Host header: the host as written, with a port that is not the
    /// scheme's default.
    pub fn host_header(&self) -> String {
        let host = match &self.host {
            Host::Name(name) => name.clone(),
            Host::Ip(IpAddr::V4(ip)) => ip.to_string(),
            Host::Ip(IpAddr::V6(ip)) => format!("[{ip}]"),
        };
        let default = match self.scheme {
            Scheme::Http => 80,
            Scheme::Https => 443,
        };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// Parses an absolute `http`/`https` URL strictly: no user info, no
/// fragment, printable ASCII only, at most 2,000 characters.
pub fn parse_url(url: &str) -> Result<Destination, String> {
    if url.len() > 2000 {
        return Err("is longer than 2000 characters".into());
    }
    if !url.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err("must be printable ASCII without spaces (percent-encode the rest)".into());
    }
    let (scheme, rest) = if let Some(rest) = strip_prefix_ignore_case(url, "https://") {
        (Scheme::Https, rest)
    } else if let Some(rest) = strip_prefix_ignore_case(url, "http://") {
        (Scheme::Http, rest)
    } else {
        return Err("must be an https:// URL".into());
    };
    if rest.contains('#') {
        return Err("must not have a fragment (#...)".into());
    }
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    if authority.contains('@') {
        return Err("must not contain user info (user@host)".into());
    }
    let (host, port) = split_host_port(authority)?;
    let port = match port {
        Some(port) => port,
        None if scheme == Scheme::Https => 443,
        None => 80,
    };
    let path_and_query = match path {
        "" => "/".to_owned(),
        p if p.starts_with('?') => format!("/{p}"),
        p => p.to_owned(),
    };
    Ok(Destination {
        scheme,
        host,
        port,
        path_and_query,
    })
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

fn split_host_port(authority: &str) -> Result<(Host, Option<u16>), String> {
    let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
        let end = inner
            .find(']')
            .ok_or_else(|| "has an unclosed [IPv6 address".to_owned())?;
        let ip: Ipv6Addr = inner[..end]
            .parse()
            .map_err(|_| "has a malformed [IPv6 address]".to_owned())?;
        let after = &inner[end + 1..];
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| "has text after its [IPv6 address]".to_owned())?,
            ),
        };
        (Host::Ip(IpAddr::V6(ip)), port)
    } else {
        let (name, port) = match authority.rsplit_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (authority, None),
        };
        let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
        if name.is_empty() {
            return Err("has no host".into());
        }
        let host = match name.parse::<Ipv4Addr>() {
            Ok(ip) => Host::Ip(IpAddr::V4(ip)),
            Err(_) => {
                let valid = name.len() <= 253
                    && name.split('.').all(|label| {
                        !label.is_empty()
                            && label.len() <= 63
                            && label
                                .bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                            && !label.starts_with('-')
                            && !label.ends_with('-')
                    });
                if !valid {
                    return Err(format!("has an invalid host name {name:?}"));
                }
                Host::Name(name)
            }
        };
        (host, port)
    };
    let port = match port {
        None => None,
        Some(text) => {
            let port = text
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0 && text.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| format!("has an invalid port {text:?}"))?;
            Some(port)
        }
    };
    Ok((host, port))
}

/// Turns a host name into addresses. The service uses the system's
/// resolver; tests give one they control.
pub trait Resolver: Send + Sync {
    fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>>;
}

/// getaddrinfo(3), through the standard library.
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        Ok((host, port).to_socket_addrs()?.collect())
    }
}

/// Why a destination may not be sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Malformed(String),
    NotHttps,
    Unresolved {
        host: String,
        reason: String,
    },
    NotPublic {
        host: String,
        address: IpAddr,
        kind: &'static str,
    },
}

impl Refusal {
    /// What is wrong with the URL, as a field error says it.
    pub fn reason(&self) -> String {
        match self {
            Self::Malformed(reason) => reason.clone(),
            Self::NotHttps => {
                "must be https (http is allowed only with WEBHOOK_ALLOW_INSECURE=true)".into()
            }
            Self::Unresolved { host, reason } => {
                format!("has a host {host} that could not be resolved: {reason}")
            }
            Self::NotPublic {
                host,
                address,
                kind,
            } => format!(
                "has a host {host} that resolves to {address}, a {kind} address; webhooks go \
                 to public addresses only"
            ),
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "refused: the url {}", self.reason())
    }
}

impl std::error::Error for Refusal {}

/// The rules every destination is checked by.
#[derive(Clone)]
pub struct Policy {
    pub allow_insecure: bool,
    pub resolver: Arc<dyn Resolver>,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("allow_insecure", &self.allow_insecure)
            .finish_non_exhaustive()
    }
}

impl Policy {
    pub fn new(allow_insecure: bool) -> Self {
        Self {
            allow_insecure,
            resolver: Arc::new(SystemResolver),
        }
    }

    /// Parses `url` and resolves its host; every address it resolves to
    /// must be public (one private answer among public ones is refused
    /// too: which one a connection would use is not ours to choose).
    /// Answers the destination and the addresses to connect to.
    pub fn check(&self, url: &str) -> Result<(Destination, Vec<SocketAddr>), Refusal> {
        let destination = parse_url(url).map_err(Refusal::Malformed)?;
        if destination.scheme != Scheme::Https && !self.allow_insecure {
            return Err(Refusal::NotHttps);
        }
        let (shown, addresses) = match &destination.host {
            Host::Ip(ip) => (ip.to_string(), vec![SocketAddr::new(*ip, destination.port)]),
            Host::Name(name) => {
                let addresses = self
                    .resolver
                    .resolve(name, destination.port)
                    .map_err(|error| Refusal::Unresolved {
                        host: name.clone(),
                        reason: error.to_string(),
                    })?;
                if addresses.is_empty() {
                    return Err(Refusal::Unresolved {
                        host: name.clone(),
                        reason: "no address".into(),
                    });
                }
                (name.clone(), addresses)
            }
        };
        if !self.allow_insecure {
            for address in &addresses {
                if let Some(kind) = special_kind(address.ip()) {
                    return Err(Refusal::NotPublic {
                        host: shown,
                        address: address.ip(),
                        kind,
                    });
                }
            }
        }
        Ok((destination, addresses))
    }
}

/// What kind of non-public address `ip` is, or `None` for a public one.
pub fn special_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(ip) => special_v4(ip),
        IpAddr::V6(ip) => special_v6(ip),
    }
}

fn special_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => "unspecified (\"this network\")",
        (127, _, _) => "loopback",
        (10, _, _) | (192, 168, _) => "private",
        (172, 16..=31, _) => "private",
        (169, 254, _) => "link-local",
        (100, 64..=127, _) => "shared (carrier-grade NAT)",
        (192, 0, 0) => "IETF protocol assignment",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (198, 18..=19, _) => "benchmarking",
        (224..=239, _, _) => "multicast",
        (240..=255, _, _) => "reserved",
        _ => return None,
    })
}

fn special_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return special_v4(v4);
    }
    let segments = ip.segments();
    Some(match segments {
        [0, 0, 0, 0, 0, 0, 0, 0] => "unspecified",
        [0, 0, 0, 0, 0, 0, 0, 1] => "loopback",
        // IPv4-compatible (deprecated) and NAT64: they lead to an IPv4 address.
        [0, 0, 0, 0, 0, 0, _, _] | [0x64, 0xff9b, 0, 0, 0, 0, _, _] => {
            let [_, _, _, _, _, _, high, low] = segments;
            let v4 = Ipv4Addr::new((high >> 8) as u8, high as u8, (low >> 8) as u8, low as u8);
            return special_v4(v4).or(Some("IPv4-embedding"));
        }
        [s, ..] if s & 0xfe00 == 0xfc00 => "unique-local",
        [s, ..] if s & 0xffc0 == 0xfe80 => "link-local",
        [s, ..] if s & 0xffc0 == 0xfec0 => "site-local",
        [s, ..] if s & 0xff00 == 0xff00 => "multicast",
        [0x2001, 0xdb8, ..] => "documentation",
        [0x100, 0, 0, 0, ..] => "discard-only",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn urls_are_parsed_strictly() {
        let d = parse_url("https://Hooks.Example.com/in?x=1").unwrap();
        assert_eq!(d.scheme, Scheme::Https);
        assert_eq!(d.host, Host::Name("hooks.example.com".into()));
        assert_eq!(d.port, 443);
        assert_eq!(d.path_and_query, "/in?x=1");
        assert_eq!(d.host_header(), "hooks.example.com");
        let d = parse_url("http://127.0.0.1:8080").unwrap();
        assert_eq!(d.host, Host::Ip("127.0.0.1".parse().unwrap()));
        assert_eq!(d.path_and_query, "/");
        assert_eq!(d.host_header(), "127.0.0.1:8080");
        let d = parse_url("https://[::1]:9/a").unwrap();
        assert_eq!(d.host, Host::Ip("::1".parse().unwrap()));
        assert_eq!(d.host_header(), "[::1]:9");
        for bad in [
            "ftp://example.com/",
            "https://",
            "https://user@example.com/",
            "https://example.com/#frag",
            "https://exa mple.com/",
            "https://example.com:0/",
            "https://example.com:99999/",
            "https://example.com:+1/",
            "https://-bad-.com/",
            "https://[::1/",
            "https://[zz]/",
            "example.com",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_public_addresses_are_public() {
        for special in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2001:db8::1",
        ] {
            let ip: IpAddr = special.parse().unwrap();
            assert!(special_kind(ip).is_some(), "{special}");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "172.32.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            let ip: IpAddr = public.parse().unwrap();
            assert_eq!(special_kind(ip), None, "{public}");
        }
    }

    struct Fixed(HashMap<&'static str, Vec<IpAddr>>);

    impl Resolver for Fixed {
        fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
            self.0
                .get(host)
                .map(|ips| ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect())
                .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "unknown host"))
        }
    }

    #[test]
    fn the_policy_refuses_http_and_names_that_resolve_to_special_addresses() {
        let resolver = Fixed(HashMap::from([
            ("public.test", vec!["93.184.216.34".parse().unwrap()]),
            ("inside.test", vec!["10.0.0.7".parse().unwrap()]),
            (
                "mixed.test",
                vec!["93.184.216.34".parse().unwrap(), "::1".parse().unwrap()],
            ),
        ]));
        let strict = Policy {
            allow_insecure: false,
            resolver: Arc::new(resolver),
        };
        assert!(strict.check("https://public.test/hook").is_ok());
        assert_eq!(strict.check("http://public.test/"), Err(Refusal::NotHttps));
        assert!(matches!(
            strict.check("https://inside.test/"),
            Err(Refusal::NotPublic {
                kind: "private",
                ..
            })
        ));
        assert!(matches!(
            strict.check("https://mixed.test/"),
            Err(Refusal::NotPublic {
                kind: "loopback",
                ..
            })
        ));
        assert!(matches!(
            strict.check("https://127.0.0.1/"),
            Err(Refusal::NotPublic { .. })
        ));
        assert!(matches!(
            strict.check("https://nowhere.test/"),
            Err(Refusal::Unresolved { .. })
        ));
        let insecure = Policy {
            allow_insecure: true,
            ..strict
        };
        assert!(insecure.check("http://inside.test/").is_ok());
    }
}
