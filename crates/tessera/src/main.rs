//! The `tessera` command line: `serve`, `migrate`, `demo`, `journey`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use tessera::config::{load_raw, Config, LogFormat, Overrides};
use tessera::server::{self, MigrateMode};
use tessera_identity::SystemClock;

#[derive(Parser)]
#[command(
    name = "tessera",
    version,
    about = "Self-hosted identity orchestration server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        #[command(flatten)]
        common: CommonArgs,
        /// Apply pending PostgreSQL migrations before serving (SQLite always migrates).
        #[arg(long)]
        migrate: bool,
        /// Store OTP and magic-link messages in the development outbox instead of sending
        /// them (listed at GET /cis/v1/dev/outbox; same as TESSERA_DELIVERY__OUTBOX=true).
        #[arg(long)]
        dev_outbox: bool,
        /// Serve https with this PEM certificate chain (leaf first; with --tls-key). Reloaded
        /// when the file changes (same as `[http] tls_cert`, TESSERA_HTTP__TLS_CERT).
        #[arg(long, value_name = "FILE")]
        tls_cert: Option<PathBuf>,
        /// The PEM private key (PKCS#8, PKCS#1 or SEC1) of --tls-cert.
        #[arg(long, value_name = "FILE")]
        tls_key: Option<PathBuf>,
    },
    /// Apply pending database migrations and exit.
    Migrate {
        #[command(flatten)]
        common: CommonArgs,
    },
    /// A throwaway server on a fresh SQLite data dir with a demo application, client, user,
    /// the example journeys and a toy legacy token validator; prints the demo page's URL and
    /// curl commands. Ctrl-C stops it.
    Demo {
        /// Address to listen on (default 127.0.0.1:8080; 127.0.0.1:0 for any free port).
        #[arg(long)]
        listen: Option<String>,
        /// An empty or new directory for the data (kept); default a temp dir deleted at exit.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Log filter (default `warn`).
        #[arg(long)]
        log_level: Option<String>,
    },
    /// Journey tools: check, run, test, apply.
    Journey {
        #[command(subcommand)]
        command: tessera::journey_cli::JourneyCommand,
    },
}

#[derive(Args)]
struct CommonArgs {
    /// TOML configuration file.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long)]
    listen: Option<String>,
    /// The issuer URL, used byte for byte (default http://<listen address>).
    #[arg(long)]
    issuer: Option<String>,
    /// Data directory for the SQLite file and generated secrets (default ./tessera-data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// `postgres://…` to use PostgreSQL; default is SQLite in the data dir.
    #[arg(long)]
    database_url: Option<String>,
    /// Log format.
    #[arg(long, value_enum)]
    log_format: Option<LogFormat>,
    /// Log filter, e.g. `info` or `tessera=debug`.
    #[arg(long)]
    log_level: Option<String>,
}

impl CommonArgs {
    fn config(&self, dev_outbox: bool, tls: (Option<PathBuf>, Option<PathBuf>)) -> Result<Config> {
        let env: BTreeMap<String, String> = std::env::vars().collect();
        let flags = Overrides {
            listen: self.listen.clone(),
            issuer: self.issuer.clone(),
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            log_format: self.log_format,
            log_level: self.log_level.clone(),
            dev_outbox,
            tls_cert: tls.0,
            tls_key: tls.1,
        };
        Config::resolve(load_raw(self.config.as_deref(), &env, &flags)?)
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve {
            common,
            migrate,
            dev_outbox,
            tls_cert,
            tls_key,
        } => {
            let config = common.config(dev_outbox, (tls_cert, tls_key))?;
            tessera::telemetry::init(config.log_format, &config.log_level)?;
            let mode = if migrate {
                MigrateMode::Migrate
            } else {
                MigrateMode::Default
            };
            let data_dir = config.data_dir.clone();
            let srv = server::start(config, Arc::new(SystemClock), mode).await?;
            if srv.generated_admin.is_some() {
                // SPEC §2: the secret is written only to the file (mode 0600); the terminal
                // and the log name the file and how to read it, never the secret.
                println!(
                    "{}",
                    tessera::server::admin_credentials_notice(
                        &data_dir.join("admin-credentials.json")
                    )
                );
            }
            srv.wait(shutdown_signal()).await
        }
        Command::Migrate { common } => {
            let config = common.config(false, (None, None))?;
            tessera::telemetry::init(config.log_format, &config.log_level)?;
            let db =
                server::open_database(&config, Arc::new(SystemClock), MigrateMode::Migrate).await?;
            db.close().await;
            println!("migrations applied");
            Ok(())
        }
        Command::Demo {
            listen,
            data_dir,
            log_level,
        } => {
            if let Some(l) = &listen {
                tessera::demo::check_listen(l)?;
            }
            let options = tessera::demo::DemoOptions {
                listen,
                data_dir,
                log_level,
            };
            tessera::demo::run(options, shutdown_signal()).await
        }
        Command::Journey { command } => tessera::journey_cli::run(command).await,
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
