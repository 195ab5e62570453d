//! A real SMTP server for the tests: lettre talks to it over TCP. It keeps
//! every message it accepts, and can be switched to refuse mail, as a mail
//! server that is down would.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicBool, AtomicU64, Ordering},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
};

#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub to: Vec<String>,
    pub raw: String,
}

impl ReceivedMail {
    /// The decoded Subject header.
    pub fn subject(&self) -> String {
        let headers = self.raw.split("\r\n\r\n").next().unwrap_or("");
        let unfolded = headers.replace("\r\n ", " ").replace("\r\n\t", " ");
        let line = unfolded
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("subject:"))
            .unwrap_or("");
        decode_words(line["subject:".len().min(line.len())..].trim())
    }

    /// Every text part, decoded, joined.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for part in self.raw.split("\r\n--") {
            let Some((headers, body)) = part.split_once("\r\n\r\n") else {
                continue;
            };
            let lower = headers.to_ascii_lowercase();
            if !lower.contains("content-type: text/") {
                continue;
            }
            let body = body.split("\r\n--").next().unwrap_or(body);
            if lower.contains("content-transfer-encoding: base64") {
                let joined: String = body.split_whitespace().collect();
                if let Ok(bytes) = STANDARD.decode(joined) {
                    out.push_str(&String::from_utf8_lossy(&bytes));
                }
            } else if lower.contains("content-transfer-encoding: quoted-printable") {
                out.push_str(&decode_qp(body));
            } else {
                out.push_str(body);
            }
            out.push('\n');
        }
        out
    }

    /// The `token` query parameter of the first link to `path`.
    pub fn token_for(&self, path: &str) -> String {
        let text = self.text();
        let start = text
            .find(&format!("{path}?token="))
            .unwrap_or_else(|| panic!("no link to {path} in mail:\n{text}"));
        text[start + path.len() + "?token=".len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }
}

fn decode_qp(body: &str) -> String {
    let soft = body.replace("=\r\n", "");
    let bytes = soft.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&soft[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Decodes RFC 2047 encoded words (`=?utf-8?b?...?=`, `=?utf-8?q?...?=`).
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    for word in value.split_whitespace() {
        let lower = word.to_ascii_lowercase();
        if lower.starts_with("=?utf-8?b?") && word.ends_with("?=") {
            let b64 = &word[10..word.len() - 2];
            if let Ok(bytes) = STANDARD.decode(b64) {
                out.push_str(&String::from_utf8_lossy(&bytes));
                continue;
            }
        } else if lower.starts_with("=?utf-8?q?") && word.ends_with("?=") {
            out.push_str(&decode_qp(&word[10..word.len() - 2].replace('_', " ")));
            continue;
        }
        if !out.is_empty() && !lower.starts_with("=?") {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

#[derive(Clone)]
pub struct MailSink {
    pub port: u16,
    messages: Arc<Mutex<Vec<ReceivedMail>>>,
    accepting: Arc<AtomicBool>,
    /// When set, each message's data is refused (after the delay).
    refusing_data: Arc<AtomicBool>,
    /// While set, the server holds every message's data without answering.
    holding: Arc<AtomicBool>,
    /// Milliseconds the server waits before accepting a message's data.
    delay_ms: Arc<AtomicU64>,
}

impl MailSink {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind SMTP sink");
        let sink = Self {
            port: listener.local_addr().unwrap().port(),
            messages: Arc::default(),
            accepting: Arc::new(AtomicBool::new(true)),
            refusing_data: Arc::default(),
            holding: Arc::default(),
            delay_ms: Arc::default(),
        };
        let shared = sink.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let sink = shared.clone();
                tokio::spawn(async move {
                    let _ = sink.session(stream).await;
                });
            }
        });
        sink
    }

    /// While false the server answers every connection with 421, as a
    /// server that is down for maintenance does.
    pub fn set_accepting(&self, accepting: bool) {
        self.accepting.store(accepting, Ordering::SeqCst);
    }

    /// While true the server takes each message's data and then refuses it
    /// (after the delay, if any), as a server whose filter rejects mail does.
    pub fn set_refusing_data(&self, refusing: bool) {
        self.refusing_data.store(refusing, Ordering::SeqCst);
    }

    /// While true the server keeps every message it is given waiting for its
    /// answer, as a stalled one does; false lets them through.
    pub fn set_holding(&self, holding: bool) {
        self.holding.store(holding, Ordering::SeqCst);
    }

    /// Makes the server slow to accept each message, as a loaded one is.
    pub fn set_delay(&self, delay: std::time::Duration) {
        self.delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.messages.lock().unwrap().clone()
    }

    pub fn to(&self, address: &str) -> Vec<ReceivedMail> {
        self.messages()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(address)))
            .collect()
    }

    /// Waits up to ten seconds for the `n`th mail to an address.
    pub async fn wait_for(&self, address: &str, n: usize) -> ReceivedMail {
        for _ in 0..200 {
            let mails = self.to(address);
            if mails.len() >= n {
                return mails[n - 1].clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!(
            "no mail #{n} to {address} within 10 s; got {:?}",
            self.messages().iter().map(|m| &m.to).collect::<Vec<_>>()
        );
    }

    /// The first email to `address` whose subject contains `needle`,
    /// waiting up to 10 s: for emails that are not queued in a set order
    /// (a check-in's thank-you is written by the worker a moment later).
    pub async fn wait_for_subject(&self, address: &str, needle: &str) -> ReceivedMail {
        for _ in 0..200 {
            if let Some(mail) = self
                .to(address)
                .into_iter()
                .find(|m| m.subject().contains(needle))
            {
                return mail;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!(
            "no mail to {address} about {needle:?} within 10 s; got {:?}",
            self.to(address)
                .iter()
                .map(ReceivedMail::subject)
                .collect::<Vec<_>>()
        );
    }

    async fn session(&self, stream: tokio::net::TcpStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read);
        if !self.accepting.load(Ordering::SeqCst) {
            write
                .write_all(b"421 sink.test Service not available\r\n")
                .await?;
            return Ok(());
        }
        write.write_all(b"220 sink.test ESMTP\r\n").await?;
        let mut to = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            if lines.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            // A server that goes down drops the connections it holds too.
            if !self.accepting.load(Ordering::SeqCst) {
                write
                    .write_all(b"421 sink.test Service not available\r\n")
                    .await?;
                return Ok(());
            }
            let command = line.trim_end().to_ascii_uppercase();
            let reply: &[u8] = if command.starts_with("EHLO") {
                b"250-sink.test\r\n250 8BITMIME\r\n"
            } else if command.starts_with("HELO")
                || command.starts_with("MAIL FROM")
                || command.starts_with("RSET")
                || command.starts_with("NOOP")
            {
                if command.starts_with("RSET") {
                    to.clear();
                }
                b"250 OK\r\n"
            } else if command.starts_with("RCPT TO") {
                let addr = line.trim_end()[8..]
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_owned();
                to.push(addr);
                b"250 OK\r\n"
            } else if command == "DATA" {
                write.write_all(b"354 end with .\r\n").await?;
                let mut raw = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" {
                        break;
                    }
                    let unstuffed = line.strip_prefix('.').unwrap_or(&line);
                    raw.push_str(unstuffed);
                }
                let delay = self.delay_ms.load(Ordering::SeqCst);
                if delay > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
                }
                while self.holding.load(Ordering::SeqCst) {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
                if self.refusing_data.load(Ordering::SeqCst) {
                    to.clear();
                    write.write_all(b"554 rejected by filter\r\n").await?;
                    continue;
                }
                self.messages.lock().unwrap().push(ReceivedMail {
                    to: std::mem::take(&mut to),
                    raw,
                });
                b"250 OK queued\r\n"
            } else if command.starts_with("QUIT") {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            } else {
                b"502 not implemented\r\n"
            };
            write.write_all(reply).await?;
        }
    }
}
