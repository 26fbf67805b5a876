//! The one HTTP request the sender makes: a POST of a small JSON body to an
//! address already checked by the destination policy, over TLS for `https`.
//!
//! Written against std's TcpStream rather than with a client library
//! because each rule is then one line here: connect to the checked address
//! and nowhere else (no second DNS lookup, no proxy from the environment),
//! never follow a redirect (a 3xx is an answer like any other non-2xx), the
//! whole exchange within one deadline, and at most 4 KB of the response
//! body read.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::destination::{Destination, Host, Scheme};

/// How much of a response body is read (SPEC §11).
pub const MAX_BODY: usize = 4096;
/// How much of the status line and headers is read before giving up.
const MAX_HEAD: usize = 16 * 1024;

/// What the receiver answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// The start of the body, at most MAX_BODY bytes.
    pub body: Vec<u8>,
}

/// One request to send.
pub struct Request<'a> {
    pub destination: &'a Destination,
    pub addresses: &'a [SocketAddr],
    pub headers: &'a [(&'a str, String)],
    pub body: &'a [u8],
    pub timeout: Duration,
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "no answer within the timeout")
}

/// Sends `request`; an error for anything short of a status line.
pub fn post(request: &Request<'_>) -> io::Result<Response> {
    let deadline = Instant::now() + request.timeout;
    let stream = connect(request.addresses, deadline)?;
    let head = request_head(request);
    match request.destination.scheme {
        Scheme::Http => exchange(stream, &head, request.body, deadline),
        Scheme::Https => {
            let name = match &request.destination.host {
                Host::Name(name) => rustls::pki_types::ServerName::try_from(name.clone())
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
                Host::Ip(ip) => rustls::pki_types::ServerName::IpAddress((*ip).into()),
            };
            let connection = rustls::ClientConnection::new(tls_config(), name)
                .map_err(|e| io::Error::other(e.to_string()))?;
            let tls = rustls::StreamOwned::new(connection, stream);
            exchange(tls, &head, request.body, deadline)
        }
    }
}

/// Tries each checked address in turn until one connects.
fn connect(addresses: &[SocketAddr], deadline: Instant) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::AddrNotAvailable, "no address to connect to");
    for address in addresses {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timed_out());
        }
        match TcpStream::connect_timeout(address, left) {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            Err(error) => last = error,
        }
    }
    Err(last)
}

fn request_head(request: &Request<'_>) -> Vec<u8> {
    let mut head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: invoiced-webhooks/{}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        request.destination.path_and_query,
        request.destination.host_header(),
        env!("CARGO_PKG_VERSION"),
        request.body.len(),
    );
    for (name, value) in request.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// Something to read and write under a deadline.
trait Timed: Read + Write {
    fn tcp(&self) -> &TcpStream;
}

impl Timed for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl Timed for rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    fn tcp(&self) -> &TcpStream {
        &self.sock
    }
}

/// Sets the socket's timeouts to what is left before `deadline`.
fn arm(stream: &impl Timed, deadline: Instant) -> io::Result<()> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(timed_out());
    }
    stream.tcp().set_read_timeout(Some(left))?;
    stream.tcp().set_write_timeout(Some(left))
}

fn exchange(
    mut stream: impl Timed,
    head: &[u8],
    body: &[u8],
    deadline: Instant,
) -> io::Result<Response> {
    arm(&stream, deadline)?;
    stream.write_all(head)?;
    arm(&stream, deadline)?;
    stream.write_all(body)?;
    stream.flush()?;
    let mut received = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    let head_end = loop {
        if let Some(end) = find(&received, b"\r\n\r\n") {
            break end + 4;
        }
        if received.len() > MAX_HEAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the response headers exceed 16 KB",
            ));
        }
        arm(&stream, deadline)?;
        let n = read_some(&mut stream, &mut chunk)?;
        if n == 0 {
            // A status line without headers still says what happened.
            if find(&received, b"\r\n").is_some() {
                break received.len();
            }
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the connection closed without a response",
            ));
        }
        received.extend_from_slice(&chunk[..n]);
    };
    let status = parse_status(&received[..head_end])?;
    let mut body = received[head_end..].to_vec();
    while body.len() < MAX_BODY {
        if arm(&stream, deadline).is_err() {
            break;
        }
        match read_some(&mut stream, &mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    body.truncate(MAX_BODY);
    Ok(Response { status, body })
}

/// A read that maps the socket's timeout to TimedOut (it reports WouldBlock
/// on Unix).
fn read_some(stream: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    match stream.read(buf) {
        Err(error) if error.kind() == io::ErrorKind::WouldBlock => Err(timed_out()),
        other => other,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `HTTP/1.x NNN reason`.
fn parse_status(head: &[u8]) -> io::Result<u16> {
    let line_end = find(head, b"\r\n").unwrap_or(head.len());
    let line = std::str::from_utf8(&head[..line_end]).unwrap_or_default();
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let code = parts.next().unwrap_or_default();
    match code.parse::<u16>() {
        Ok(status) if version.starts_with("HTTP/1.") && (100..=599).contains(&status) => Ok(status),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "not an HTTP response: {:?}",
                line.chars().take(80).collect::<String>()
            ),
        )),
    }
}

/// Mozilla's root certificates (webpki-roots), built once.
fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("ring supports the default TLS versions")
                .with_root_certificates(roots)
                .with_no_client_auth();
            Arc::new(config)
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::parse_status;

    #[test]
    fn status_lines_are_read_strictly() {
        assert_eq!(parse_status(b"HTTP/1.1 204 No Content\r\n").unwrap(), 204);
        assert_eq!(parse_status(b"HTTP/1.0 500\r\n").unwrap(), 500);
        assert!(parse_status(b"SSH-2.0-OpenSSH\r\n").is_err());
        assert!(parse_status(b"HTTP/1.1 99 Low\r\n").is_err());
    }
}
