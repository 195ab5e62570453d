//! TLS to the servers the worker talks to (webhook receivers, a mail server
//! on implicit TLS), checked against the public web's roots.

use std::sync::{Arc, LazyLock};

use tokio::net::TcpStream;
use tokio_rustls::{
    TlsConnector,
    client::TlsStream,
    rustls::{ClientConfig, RootCertStore, pki_types::ServerName},
};

static CONNECTOR: LazyLock<TlsConnector> = LazyLock::new(|| {
    let roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.into(),
    };
    let config = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
});

/// TLS over `tcp` to `host` (a name, or an address, bracketed or not).
pub async fn connect(host: &str, tcp: TcpStream) -> Result<TlsStream<TcpStream>, String> {
    let name = ServerName::try_from(
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
    )
    .map_err(|e| e.to_string())?;
    CONNECTOR
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS: {e}"))
}
