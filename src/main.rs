use clap::Parser;

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    return_large_blocks_to_the_system();
    nuancheng::telemetry::init();
    let cli = nuancheng::cli::Cli::parse();
    match nuancheng::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("nuancheng: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Every password hash allocates a 19 MiB block. glibc's allocator serves
/// the first from its own mapping, but once one is freed it raises its
/// threshold and keeps later ones in the heap, where they stay: a burst of
/// 300 signups left the process at 412 MB. A fixed threshold of 128 KiB
/// (glibc's starting value) keeps large blocks in mappings of their own,
/// returned to the system when freed; the same burst then peaks at 87 MB and
/// falls back to 50 MB (docs/performance.md).
fn return_large_blocks_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const M_MMAP_THRESHOLD: i32 = -3;
        unsafe extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        // SAFETY: mallopt only changes the allocator's tuning; it is called
        // once, before any other thread exists.
        unsafe {
            mallopt(M_MMAP_THRESHOLD, 128 * 1024);
        }
    }
}
