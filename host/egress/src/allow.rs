//! The manifest's allow-list and the rules for which addresses a request may
//! reach.
//!
//! A request passes two checks. Before anything is sent, its URL's scheme,
//! host and port must match an `http_hosts` entry ([`AllowList::check_url`]).
//! Then, at connect time, every address the host name resolves to must be
//! public, unless the manifest opted in to it ([`AllowList::check_addresses`]).
//! Non-public means loopback, private (RFC 1918, ULA `fc00::/7`),
//! carrier-grade NAT, link-local, unspecified, multicast, documentation,
//! benchmarking and reserved ranges; IPv6 forms that embed an IPv4 address
//! (mapped, NAT64, 6to4) are judged by that address. Such an address is
//! reachable only when the manifest lists that exact IP, or when the URL's
//! host is `localhost`, listed literally, and the address is loopback. Cloud
//! metadata addresses are never reachable.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::Url;

use crate::error::ConfigError;

/// Port of an `https` URL without one.
const HTTPS_PORT: u16 = 443;

/// Instance metadata services, which hand out cloud credentials: AWS, GCP,
/// Azure and OpenStack (169.254.169.254), AWS over IPv6 (fd00:ec2::254) and
/// Alibaba Cloud (100.100.100.200). No EHR is served from these, so even a
/// manifest that lists them cannot reach them.
const METADATA_ADDRESSES: [IpAddr; 3] = [
    IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254)),
    IpAddr::V4(Ipv4Addr::new(100, 100, 100, 200)),
];

/// A host as written in a URL or an allow-list entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HostName {
    /// A DNS name, lowercase ASCII (IDNA applied), without a trailing dot.
    Domain(String),
    /// An IP address literal.
    Ip(IpAddr),
}

impl HostName {
    fn from_url_host(host: url::Host<&str>) -> Self {
        match host {
            url::Host::Domain(name) => HostName::Domain(name.trim_end_matches('.').to_string()),
            url::Host::Ipv4(ip) => HostName::Ip(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => HostName::Ip(IpAddr::V6(ip)),
        }
    }

    fn is_localhost(&self) -> bool {
        matches!(self, HostName::Domain(name) if name == "localhost")
    }

    fn is_loopback(&self) -> bool {
        match self {
            HostName::Domain(_) => self.is_localhost(),
            HostName::Ip(ip) => canonical(*ip).is_loopback(),
        }
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostName::Domain(name) => f.write_str(name),
            HostName::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
            HostName::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
        }
    }
}

/// The scheme of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scheme {
    Https,
    Http,
}

impl Scheme {
    fn as_str(self) -> &'static str {
        match self {
            Scheme::Https => "https",
            Scheme::Http => "http",
        }
    }
}

/// Where a request goes, after its URL passed the allow-list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) scheme: Scheme,
    pub(crate) host: HostName,
    pub(crate) port: u16,
}

impl Target {
    /// `scheme://host:port`, the form used in messages and logs.
    pub(crate) fn origin(&self) -> String {
        format!("{}://{}:{}", self.scheme.as_str(), self.host, self.port)
    }
}

/// One parsed `http_hosts` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
struct HostEntry {
    host: HostName,
    /// `None` means HTTPS on port 443 only.
    port: Option<u16>,
}

/// The parsed `http_hosts` of one manifest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct AllowList {
    entries: Vec<HostEntry>,
}

impl AllowList {
    /// Parses manifest entries: `name`, `name:port`, `1.2.3.4`,
    /// `1.2.3.4:port`, `::1`, `[::1]` or `[::1]:port`.
    pub(crate) fn parse(entries: &[String]) -> Result<Self, ConfigError> {
        let entries = entries
            .iter()
            .map(|entry| parse_entry(entry))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AllowList { entries })
    }

    /// Checks a URL's scheme, user info, host and port against the entries.
    /// Returns the denial message on failure.
    pub(crate) fn check_url(&self, url: &Url) -> Result<Target, String> {
        let scheme = match url.scheme() {
            "https" => Scheme::Https,
            "http" => Scheme::Http,
            other => return Err(format!("scheme {other:?} is not allowed; use https")),
        };
        let Some(host) = url.host() else {
            return Err("the URL has no host".to_string());
        };
        let host = HostName::from_url_host(host);
        let port = url.port_or_known_default().unwrap_or(HTTPS_PORT);
        let target = Target { scheme, host, port };

        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!(
                "{}: URLs with a user name or password are not allowed; name a credential instead",
                target.origin()
            ));
        }

        let Some(entry) = self.matching_entry(&target) else {
            return Err(format!(
                "{} is not in the plugin's http_hosts; add \"{}\" to the manifest to allow it",
                target.origin(),
                suggested_entry(&target)
            ));
        };

        if scheme == Scheme::Http && (entry.port.is_none() || !target.host.is_loopback()) {
            return Err(format!(
                "{}: plain http is allowed only for loopback hosts listed with a port (a testing aid); use https",
                target.origin()
            ));
        }
        Ok(target)
    }

    /// Checks the addresses `target`'s host resolved to; every one must be
    /// allowed. Returns the denial message on failure.
    pub(crate) fn check_addresses(
        &self,
        target: &Target,
        addresses: &[IpAddr],
    ) -> Result<(), String> {
        if addresses.is_empty() {
            return Err(format!("{} resolved to no address", target.host));
        }
        for address in addresses {
            self.check_address(target, canonical(*address))?;
        }
        Ok(())
    }

    fn check_address(&self, target: &Target, address: IpAddr) -> Result<(), String> {
        if is_metadata(address) {
            return Err(format!(
                "{} resolves to {address}, a cloud metadata address, which is never reachable",
                target.host
            ));
        }

        if target.scheme == Scheme::Http && !address.is_loopback() {
            return Err(format!(
                "{} resolves to {address}, which is not loopback; plain http is allowed only to loopback, use https",
                target.origin()
            ));
        }

        let Some(range) = restricted_range(address) else {
            return Ok(());
        };
        let opted_in =
            self.lists_ip(address) || (target.host.is_localhost() && address.is_loopback());
        if opted_in {
            return Ok(());
        }
        Err(format!(
            "{} resolves to {address}, a {range} address; such addresses are reachable only when the manifest lists that exact IP",
            target.host
        ))
    }

    fn matching_entry(&self, target: &Target) -> Option<&HostEntry> {
        self.entries.iter().find(|entry| {
            let host_matches = match (&entry.host, &target.host) {
                (HostName::Ip(a), HostName::Ip(b)) => canonical(*a) == canonical(*b),
                (a, b) => a == b,
            };
            let port_matches = match entry.port {
                Some(port) => port == target.port,
                None => target.scheme == Scheme::Https && target.port == HTTPS_PORT,
            };
            host_matches && port_matches
        })
    }

    fn lists_ip(&self, address: IpAddr) -> bool {
        self.entries
            .iter()
            .any(|entry| matches!(entry.host, HostName::Ip(ip) if canonical(ip) == address))
    }
}

/// The entry that would allow `target`, for the denial message.
fn suggested_entry(target: &Target) -> String {
    if target.scheme == Scheme::Https && target.port == HTTPS_PORT {
        target.host.to_string()
    } else {
        format!("{}:{}", target.host, target.port)
    }
}

fn parse_entry(entry: &str) -> Result<HostEntry, ConfigError> {
    let invalid = |reason: &str| ConfigError::InvalidHost {
        entry: entry.to_string(),
        reason: reason.to_string(),
    };
    let text = entry.trim();
    if text.is_empty() {
        return Err(invalid("it is empty"));
    }
    if text.contains(['/', '*', '@', '?', '#']) || text.contains(char::is_whitespace) {
        return Err(invalid(
            "schemes, paths, wildcards, user info and spaces are not allowed",
        ));
    }

    // A bare IPv6 address has colons of its own, so try it whole first.
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(HostEntry {
            host: HostName::Ip(ip),
            port: None,
        });
    }

    let (host, port) = split_port(text).map_err(|reason| invalid(&reason))?;
    let host = url::Host::parse(host).map_err(|e| invalid(&e.to_string()))?;
    let host = match host {
        url::Host::Domain(name) => HostName::Domain(name.trim_end_matches('.').to_string()),
        url::Host::Ipv4(ip) => HostName::Ip(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => HostName::Ip(IpAddr::V6(ip)),
    };
    Ok(HostEntry { host, port })
}

/// Splits `host:port` or `[v6]:port`; the port is optional.
fn split_port(text: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = if text.starts_with('[') {
        match text.find(']') {
            Some(end) => {
                let rest = &text[end + 1..];
                let port = match rest.strip_prefix(':') {
                    Some(port) => Some(port),
                    None if rest.is_empty() => None,
                    None => return Err("unexpected text after ']'".to_string()),
                };
                (&text[..=end], port)
            }
            None => return Err("missing ']'".to_string()),
        }
    } else {
        match text.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        }
    };

    let port = match port {
        None => None,
        Some(port) => match port.parse::<u16>() {
            Ok(0) | Err(_) => return Err(format!("port {port:?} is not a number from 1 to 65535")),
            Ok(port) => Some(port),
        },
    };
    Ok((host, port))
}

/// The IPv4 address inside an IPv4-mapped IPv6 address, else the address.
pub(crate) fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => address,
        },
        IpAddr::V4(_) => address,
    }
}

fn is_metadata(address: IpAddr) -> bool {
    let embedded = match address {
        IpAddr::V6(v6) => embedded_ipv4(v6).map(IpAddr::V4),
        IpAddr::V4(_) => None,
    };
    METADATA_ADDRESSES
        .iter()
        .any(|metadata| *metadata == address || Some(*metadata) == embedded)
}

/// Names the non-public range `address` is in, or `None` for a public
/// address.
pub(crate) fn restricted_range(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V4(v4) => restricted_v4(v4),
        IpAddr::V6(v6) => restricted_v6(v6),
    }
}

fn restricted_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    let range = if a == 0 {
        "unspecified"
    } else if ip.is_loopback() {
        "loopback"
    } else if ip.is_private() {
        "private"
    } else if a == 100 && (64..128).contains(&b) {
        "carrier-grade NAT"
    } else if ip.is_link_local() {
        "link-local"
    } else if a == 192 && b == 0 && c == 0 {
        "IETF protocol"
    } else if ip.is_documentation() {
        "documentation"
    } else if a == 198 && (b == 18 || b == 19) {
        "benchmarking"
    } else if ip.is_multicast() {
        "multicast"
    } else if a >= 240 {
        "reserved"
    } else {
        return None;
    };
    Some(range)
}

fn restricted_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = embedded_ipv4(ip) {
        return restricted_v4(v4);
    }
    let segments = ip.segments();
    let range = if ip.is_unspecified() {
        "unspecified"
    } else if ip.is_loopback() {
        "loopback"
    } else if segments[..6].iter().all(|s| *s == 0) {
        "IPv4-compatible"
    } else if (segments[0] & 0xfe00) == 0xfc00 {
        "private (unique local)"
    } else if (segments[0] & 0xffc0) == 0xfe80 {
        "link-local"
    } else if (segments[0] & 0xffc0) == 0xfec0 {
        "site-local"
    } else if ip.is_multicast() {
        "multicast"
    } else if segments[0] == 0x2001 && segments[1] == 0x0db8 {
        "documentation"
    } else if segments[0] == 0x2001 && segments[1] == 0 {
        "Teredo"
    } else if segments[0] == 0x0064 && segments[1] == 0xff9b && segments[2] == 1 {
        "local NAT64"
    } else if segments[0] == 0x0100 && segments[1..4].iter().all(|s| *s == 0) {
        "discard"
    } else {
        return None;
    };
    Some(range)
}

/// The IPv4 address carried by an IPv4-mapped (`::ffff:0:0/96`), NAT64
/// (`64:ff9b::/96`) or 6to4 (`2002::/16`) address.
fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = ip.segments();
    let from_halves = |high: u16, low: u16| {
        let [a, b] = high.to_be_bytes();
        let [c, d] = low.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    if s[0] == 0x0064 && s[1] == 0xff9b && s[2..6].iter().all(|x| *x == 0) {
        return Some(from_halves(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return Some(from_halves(s[1], s[2]));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow(entries: &[&str]) -> AllowList {
        let entries: Vec<String> = entries.iter().map(|e| e.to_string()).collect();
        AllowList::parse(&entries).expect("entries parse")
    }

    fn url(text: &str) -> Url {
        Url::parse(text).expect("valid URL")
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("valid IP")
    }

    #[test]
    fn listed_name_allows_https_443() {
        let list = allow(&["ehr.example.com"]);

        let target = list.check_url(&url("https://EHR.example.com./fhir/Patient/1"));

        assert_eq!(
            target.map(|t| t.origin()),
            Ok("https://ehr.example.com:443".to_string())
        );
    }

    #[test]
    fn name_without_port_denies_other_port() {
        let list = allow(&["ehr.example.com"]);

        let denial = list
            .check_url(&url("https://ehr.example.com:8443/fhir"))
            .unwrap_err();

        assert!(denial.contains("\"ehr.example.com:8443\""), "{denial}");
    }

    #[test]
    fn listed_port_must_match() {
        let list = allow(&["ehr.example.com:8443"]);

        assert!(
            list.check_url(&url("https://ehr.example.com:8443/"))
                .is_ok()
        );
        assert!(list.check_url(&url("https://ehr.example.com/")).is_err());
    }

    #[test]
    fn unlisted_host_denied() {
        let list = allow(&["ehr.example.com"]);

        let denial = list
            .check_url(&url("https://evil.example.net/"))
            .unwrap_err();

        assert!(
            denial.contains("not in the plugin's http_hosts"),
            "{denial}"
        );
    }

    #[test]
    fn suffix_of_listed_name_denied() {
        let list = allow(&["example.com"]);

        assert!(list.check_url(&url("https://ehr.example.com/")).is_err());
        assert!(
            list.check_url(&url("https://example.com.evil.net/"))
                .is_err()
        );
    }

    #[test]
    fn plain_http_needs_loopback_and_port() {
        let with_port = allow(&["127.0.0.1:8080", "ehr.example.com:8080"]);
        let without_port = allow(&["127.0.0.1"]);

        assert!(with_port.check_url(&url("http://127.0.0.1:8080/")).is_ok());
        assert!(
            with_port
                .check_url(&url("http://ehr.example.com:8080/"))
                .is_err()
        );
        assert!(without_port.check_url(&url("http://127.0.0.1/")).is_err());
    }

    #[test]
    fn other_schemes_denied() {
        let list = allow(&["ehr.example.com"]);

        let denial = list.check_url(&url("ftp://ehr.example.com/")).unwrap_err();

        assert!(denial.contains("\"ftp\""), "{denial}");
    }

    #[test]
    fn user_info_denied() {
        let list = allow(&["ehr.example.com"]);

        let denial = list
            .check_url(&url("https://user:pw@ehr.example.com/"))
            .unwrap_err();

        assert!(denial.contains("user name or password"), "{denial}");
        assert!(!denial.contains("pw"), "{denial}");
    }

    #[test]
    fn ipv6_entries_parse() {
        let list = allow(&["::1", "[::1]:8443"]);

        assert!(list.check_url(&url("https://[::1]/")).is_ok());
        assert!(list.check_url(&url("https://[::1]:8443/")).is_ok());
        assert!(list.check_url(&url("https://[::1]:9000/")).is_err());
    }

    #[test]
    fn bad_entries_rejected() {
        for entry in [
            "",
            "https://x.test",
            "*.x.test",
            "x.test:0",
            "x.test:http",
            "[::1",
        ] {
            let result = AllowList::parse(&[entry.to_string()]);

            assert!(
                matches!(result, Err(ConfigError::InvalidHost { .. })),
                "{entry:?} gave {result:?}"
            );
        }
    }

    #[test]
    fn name_resolving_to_loopback_denied() {
        let list = allow(&["ehr.test:8080"]);
        let target = list.check_url(&url("https://ehr.test:8080/")).unwrap();

        let denial = list
            .check_addresses(&target, &[ip("127.0.0.1")])
            .unwrap_err();

        assert!(denial.contains("loopback"), "{denial}");
    }

    #[test]
    fn listed_ip_opts_name_in() {
        let list = allow(&["ehr.internal", "10.1.2.3"]);
        let target = list.check_url(&url("https://ehr.internal/")).unwrap();

        assert!(list.check_addresses(&target, &[ip("10.1.2.3")]).is_ok());
        assert!(list.check_addresses(&target, &[ip("10.1.2.4")]).is_err());
    }

    #[test]
    fn every_address_checked() {
        let list = allow(&["ehr.example.com"]);
        let target = list.check_url(&url("https://ehr.example.com/")).unwrap();

        let result = list.check_addresses(&target, &[ip("93.184.216.34"), ip("10.0.0.1")]);

        assert!(result.is_err());
    }

    #[test]
    fn localhost_listed_literally_reaches_loopback() {
        let list = allow(&["localhost:8080"]);
        let target = list.check_url(&url("http://localhost:8080/")).unwrap();

        assert!(
            list.check_addresses(&target, &[ip("127.0.0.1"), ip("::1")])
                .is_ok()
        );
        assert!(list.check_addresses(&target, &[ip("10.0.0.1")]).is_err());
    }

    #[test]
    fn metadata_denied_even_when_listed() {
        let list = allow(&["169.254.169.254"]);
        let target = list.check_url(&url("https://169.254.169.254/")).unwrap();

        let denial = list
            .check_addresses(&target, &[ip("169.254.169.254")])
            .unwrap_err();

        assert!(denial.contains("metadata"), "{denial}");
    }

    #[test]
    fn mapped_metadata_denied() {
        assert!(is_metadata(ip("::ffff:169.254.169.254")));
        assert!(is_metadata(ip("64:ff9b::a9fe:a9fe")));
        assert!(is_metadata(ip("fd00:ec2::254")));
    }

    #[test]
    fn ranges_classified() {
        let cases = [
            ("127.0.0.1", Some("loopback")),
            ("10.0.0.1", Some("private")),
            ("172.16.0.1", Some("private")),
            ("192.168.1.1", Some("private")),
            ("169.254.1.1", Some("link-local")),
            ("100.64.0.1", Some("carrier-grade NAT")),
            ("0.0.0.0", Some("unspecified")),
            ("224.0.0.1", Some("multicast")),
            ("255.255.255.255", Some("reserved")),
            ("8.8.8.8", None),
            ("::1", Some("loopback")),
            ("::", Some("unspecified")),
            ("fd12::1", Some("private (unique local)")),
            ("fe80::1", Some("link-local")),
            ("ff02::1", Some("multicast")),
            ("::ffff:10.0.0.1", Some("private")),
            ("64:ff9b::7f00:1", Some("loopback")),
            ("2002:c0a8:0101::1", Some("private")),
            ("2606:4700::1111", None),
        ];

        for (address, expected) in cases {
            assert_eq!(restricted_range(ip(address)), expected, "{address}");
        }
    }
}
