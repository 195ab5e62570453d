use clap::Parser;

#[actix_web::main]
async fn main() -> std::process::ExitCode {
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
