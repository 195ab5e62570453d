//! The SMTP client: lettre speaks the protocol, over connections this module
//! opens and keeps.
//!
//! - Every connection has `TCP_NODELAY`. lettre writes a message and the
//!   closing `.` in two writes; with Nagle's algorithm the second waits for
//!   the server to acknowledge the first, and a server that answers only at
//!   the `.` delays that acknowledgement (about 40 ms on Linux): one stall
//!   per email.
//! - A connection that delivered an email is kept for the next one, so a
//!   batch does not pay a connect, a greeting, EHLO (and TLS and AUTH) and
//!   QUIT per email. One idle for a while is checked with NOOP first.
//!
//! `email.smtp_url` keeps the meaning of lettre's `from_url`:
//! `smtp://host:port` (plain), `?tls=required` / `?tls=opportunistic`
//! (STARTTLS), `smtps://` (implicit TLS), `user:pass@` (AUTH), a path as the
//! EHLO name.

use std::{
    io,
    net::SocketAddr,
    pin::Pin,
    sync::Mutex,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use lettre::{
    Message,
    transport::smtp::{
        authentication::{Credentials, Mechanism},
        client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters},
        extension::ClientId,
    },
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
};

/// A kept connection idle longer than this is asked NOOP before it is used.
const CHECK_AFTER: Duration = Duration::from_secs(5);
/// Connections kept idle at most; more in use at once are closed after use.
const KEEP_IDLE: usize = 16;

#[derive(Debug, Clone, PartialEq)]
enum Security {
    Plain,
    StartTls { required: bool },
    Implicit,
}

/// Where and how to connect, from `email.smtp_url`.
#[derive(Debug, Clone)]
struct Server {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<(String, String)>,
    hello: Option<String>,
}

impl Server {
    fn parse(raw: &str) -> Result<Self, String> {
        let url = url::Url::parse(raw).map_err(|e| e.to_string())?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("no host")?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let tls = url
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let (security, default_port) = match (url.scheme(), tls.as_deref()) {
            ("smtp", None) => (Security::Plain, 25),
            ("smtp", Some("required")) => (Security::StartTls { required: true }, 587),
            ("smtp", Some("opportunistic")) => (Security::StartTls { required: false }, 587),
            ("smtps", _) => (Security::Implicit, 465),
            (scheme, tls) => {
                return Err(format!(
                    "unknown scheme {scheme:?} or tls parameter {tls:?}"
                ));
            }
        };
        let credentials = match url.password() {
            Some(password) => Some((percent_decode(url.username())?, percent_decode(password)?)),
            None => None,
        };
        let path = url.path().trim_matches('/');
        Ok(Self {
            host,
            port: url.port().unwrap_or(default_port),
            security,
            credentials,
            hello: (!path.is_empty()).then(|| path.to_owned()),
        })
    }
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = s.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the user or password is not UTF-8".to_owned())
}

pub struct Smtp {
    server: Server,
    hello: ClientId,
    timeout: Duration,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

impl Smtp {
    /// Checks `url` now, so a wrong one stops the process at start.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, String> {
        let server = Server::parse(url)?;
        if server.security != Security::Plain {
            TlsParameters::new(server.host.clone()).map_err(|e| e.to_string())?;
        }
        let hello = match &server.hello {
            Some(name) => ClientId::Domain(name.clone()),
            None => ClientId::default(),
        };
        Ok(Self {
            server,
            hello,
            timeout,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Hands `message` to the server; within `timeout` in all, connecting
    /// included.
    pub async fn send(&self, message: &Message) -> Result<(), String> {
        let envelope = message.envelope();
        let bytes = message.formatted();
        tokio::time::timeout(self.timeout, async {
            if let Some(mut conn) = self.kept().await {
                match conn.send(envelope, &bytes).await {
                    Ok(_) => {
                        self.keep(conn);
                        return Ok(());
                    }
                    // The server answered: that answer is the outcome.
                    Err(e) if e.is_response() => {
                        conn.abort().await;
                        return Err(e.to_string());
                    }
                    // The kept connection broke (the server closed it while
                    // idle): once more on a new one.
                    Err(_) => conn.abort().await,
                }
            }
            let mut conn = self.open().await?;
            match conn.send(envelope, &bytes).await {
                Ok(_) => {
                    self.keep(conn);
                    Ok(())
                }
                Err(e) => {
                    conn.abort().await;
                    Err(e.to_string())
                }
            }
        })
        .await
        .map_err(|_| format!("the mail server took more than {:?}", self.timeout))?
    }

    /// A kept connection that still answers, if there is one.
    async fn kept(&self) -> Option<AsyncSmtpConnection> {
        loop {
            let (mut conn, since) = self.idle.lock().expect("not poisoned").pop()?;
            if since.elapsed() < CHECK_AFTER || conn.test_connected().await {
                return Some(conn);
            }
            conn.abort().await;
        }
    }

    fn keep(&self, conn: AsyncSmtpConnection) {
        let mut idle = self.idle.lock().expect("not poisoned");
        if idle.len() < KEEP_IDLE {
            idle.push((conn, Instant::now()));
        }
    }

    async fn open(&self) -> Result<AsyncSmtpConnection, String> {
        let server = &self.server;
        let cannot = |e: io::Error| format!("cannot connect to the mail server: {e}");
        let tcp = TcpStream::connect((server.host.as_str(), server.port))
            .await
            .map_err(cannot)?;
        tcp.set_nodelay(true).map_err(cannot)?;
        let stream: Box<dyn AsyncTokioStream> = match server.security {
            Security::Implicit => Box::new(Tls(super::tls::connect(&server.host, tcp).await?)),
            _ => Box::new(tcp),
        };
        let mut conn = AsyncSmtpConnection::connect_with_transport(stream, &self.hello)
            .await
            .map_err(|e| e.to_string())?;
        if let Security::StartTls { required } = server.security {
            if conn.can_starttls() {
                let tls = TlsParameters::new(server.host.clone()).map_err(|e| e.to_string())?;
                conn.starttls(tls, &self.hello)
                    .await
                    .map_err(|e| e.to_string())?;
            } else if required {
                conn.abort().await;
                return Err("the mail server does not offer STARTTLS (tls=required)".into());
            }
        }
        if let Some((user, password)) = &server.credentials {
            conn.auth(
                &[Mechanism::Plain, Mechanism::Login],
                &Credentials::new(user.clone(), password.clone()),
            )
            .await
            .map_err(|e| e.to_string())?;
        }
        Ok(conn)
    }
}

/// An implicit-TLS stream as lettre takes it.
#[derive(Debug)]
struct Tls(tokio_rustls::client::TlsStream<TcpStream>);

impl AsyncTokioStream for Tls {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

impl AsyncRead for Tls {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tls {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_urls_as_lettre_does() {
        let plain = Server::parse("smtp://127.0.0.1:2525").unwrap();
        assert_eq!((plain.port, plain.security), (2525, Security::Plain));
        let starttls = Server::parse("smtp://u%40x.cn:p%2Fw@mail.x.cn?tls=required").unwrap();
        assert_eq!(starttls.port, 587);
        assert_eq!(starttls.security, Security::StartTls { required: true });
        assert_eq!(
            starttls.credentials,
            Some(("u@x.cn".to_owned(), "p/w".to_owned()))
        );
        let implicit = Server::parse("smtps://mail.x.cn/relay.x.cn").unwrap();
        assert_eq!(
            (implicit.port, implicit.security),
            (465, Security::Implicit)
        );
        assert_eq!(implicit.hello.as_deref(), Some("relay.x.cn"));
        assert!(Server::parse("http://mail.x.cn").is_err());
        assert!(Server::parse("smtp://mail.x.cn?tls=maybe").is_err());
        assert!(Server::parse("not a url").is_err());
    }
}
