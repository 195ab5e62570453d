//! Structured logs with tracing. `RUST_LOG` sets the filter (default
//! `info`); `NUANCHENG_LOG_FORMAT=json` writes one JSON object per line.

use tracing_subscriber::{EnvFilter, fmt};

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_target(false);
    let _ = if std::env::var("NUANCHENG_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
