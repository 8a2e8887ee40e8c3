//! Name resolution that cannot be swapped out between check and connect.
//!
//! The HTTP client asks a [`CheckedResolver`] for the addresses of a host.
//! It resolves the name once through a [`NameResolver`], checks every
//! address against the allow-list rules, and hands exactly those checked
//! addresses to the connector, which connects to them while TLS still uses
//! the host name for SNI and certificate checks. A second DNS answer (DNS
//! rebinding) never reaches the connector.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use ureq::http::Uri;
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

use crate::allow::AllowList;

/// Turns a host name into IP addresses.
///
/// The host uses [`SystemResolver`]; tests install a [`StaticResolver`] to
/// make a test name resolve to a loopback address.
pub trait NameResolver: Send + Sync + fmt::Debug {
    /// Resolves `host` (a DNS name without brackets or port), waiting at most
    /// `timeout` when one is given.
    ///
    /// # Errors
    ///
    /// An I/O error when the name does not resolve or the wait runs out.
    fn resolve(&self, host: &str, timeout: Option<Duration>) -> io::Result<Vec<IpAddr>>;
}

/// The operating system's resolver (`getaddrinfo`).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemResolver;

impl NameResolver for SystemResolver {
    fn resolve(&self, host: &str, timeout: Option<Duration>) -> io::Result<Vec<IpAddr>> {
        let query = (host.to_string(), 0_u16);
        let Some(timeout) = timeout else {
            return lookup(query);
        };

        // getaddrinfo cannot be cancelled, so a helper thread runs it and is
        // left to finish on its own when the wait runs out.
        let (sender, receiver) = mpsc::sync_channel(1);
        std::thread::spawn(move || sender.send(lookup(query)));
        match receiver.recv_timeout(timeout) {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("resolving {host} took longer than {timeout:?}"),
            )),
        }
    }
}

fn lookup(query: (String, u16)) -> io::Result<Vec<IpAddr>> {
    Ok(query.to_socket_addrs()?.map(|a| a.ip()).collect())
}

/// A fixed table of names, for tests. Names missing from it fail to
/// resolve, and it never queries DNS.
#[derive(Debug, Default, Clone)]
pub struct StaticResolver {
    names: HashMap<String, Vec<IpAddr>>,
}

impl StaticResolver {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `name` resolving to `addresses`.
    pub fn with(mut self, name: &str, addresses: &[IpAddr]) -> Self {
        self.names
            .insert(name.to_ascii_lowercase(), addresses.to_vec());
        self
    }
}

impl NameResolver for StaticResolver {
    fn resolve(&self, host: &str, _timeout: Option<Duration>) -> io::Result<Vec<IpAddr>> {
        self.names
            .get(&host.to_ascii_lowercase())
            .cloned()
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{host} is not in the test resolver"),
                )
            })
    }
}

/// The allow-list refused a resolved address. Carried through the HTTP
/// client's error type and turned back into
/// [`EgressError::Denied`](crate::EgressError::Denied).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct AddressDenied(pub(crate) String);

/// The resolver of a plugin's HTTP client: resolves, checks, pins.
#[derive(Debug)]
pub(crate) struct CheckedResolver {
    pub(crate) names: Arc<dyn NameResolver>,
    pub(crate) allow: Arc<AllowList>,
}

impl Resolver for CheckedResolver {
    fn resolve(
        &self,
        uri: &Uri,
        _config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let url =
            url::Url::parse(&uri.to_string()).map_err(|e| ureq::Error::BadUri(e.to_string()))?;

        // Every URL, redirects included, passed the allow-list before it was
        // sent. A mismatch here is therefore a bug, and the request fails
        // closed.
        let target = self
            .allow
            .check_url(&url)
            .map_err(|denial| ureq::Error::Other(Box::new(AddressDenied(denial))))?;

        let addresses = addresses_of(&*self.names, url.host(), timeout)?;
        self.allow
            .check_addresses(&target, &addresses)
            .map_err(|denial| ureq::Error::Other(Box::new(AddressDenied(denial))))?;

        Ok(pinned(addresses, target.port, self.empty()))
    }
}

/// The resolver of the token client: resolves without the allow-list,
/// because the site administrator chose the token URL.
#[derive(Debug)]
pub(crate) struct PlainResolver {
    pub(crate) names: Arc<dyn NameResolver>,
}

impl Resolver for PlainResolver {
    fn resolve(
        &self,
        uri: &Uri,
        _config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let url =
            url::Url::parse(&uri.to_string()).map_err(|e| ureq::Error::BadUri(e.to_string()))?;
        let port = url.port_or_known_default().unwrap_or(443);

        let addresses = addresses_of(&*self.names, url.host(), timeout)?;

        Ok(pinned(addresses, port, self.empty()))
    }
}

fn addresses_of(
    names: &dyn NameResolver,
    host: Option<url::Host<&str>>,
    timeout: NextTimeout,
) -> Result<Vec<IpAddr>, ureq::Error> {
    let timeout = if timeout.after.is_not_happening() {
        None
    } else {
        Some(*timeout.after)
    };
    match host {
        Some(url::Host::Ipv4(ip)) => Ok(vec![IpAddr::V4(ip)]),
        Some(url::Host::Ipv6(ip)) => Ok(vec![IpAddr::V6(ip)]),
        Some(url::Host::Domain(name)) => names
            .resolve(name.trim_end_matches('.'), timeout)
            .map_err(|e| {
                tracing::debug!(host = name, error = %e, "name did not resolve");
                ureq::Error::HostNotFound
            }),
        None => Err(ureq::Error::HostNotFound),
    }
}

/// Copies checked addresses into the client's fixed-size list. Addresses
/// past its capacity are dropped, which is safe: each one kept was checked.
fn pinned(addresses: Vec<IpAddr>, port: u16, mut list: ResolvedSocketAddrs) -> ResolvedSocketAddrs {
    list.truncate(0);
    for address in addresses {
        if list.try_push(SocketAddr::new(address, port)).is_err() {
            break;
        }
    }
    list
}
