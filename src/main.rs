//! The `dingo` command line.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use dingo::admin::cli::{self, AuditArgs, ClientsAction, KeysAction, SessionsAction, UsersAction};
use dingo::clock::{SharedClock, SystemClock};
use dingo::config::{self, Settings};
use dingo::sim::{Directory, Fault, OpenAuthOutcome, Simulator};
use dingo::startup::Application;
use dingo::telemetry::logging;

/// dingo: OpenID Connect for apps whose people log in with DingTalk (钉钉).
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the OpenID provider with a configuration file and DINGO_* environment variables.
    Serve(ConfigArgs),
    /// Run everything on one address with no configuration: dingo on SQLite with a generated key,
    /// the DingTalk simulator with a sample organisation, and a demo app that logs in through
    /// dingo. Prints the URL to open.
    Demo {
        /// Address for the demo (dingo, the simulator and the demo app share it).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Directory for the demo's database and key (default: a fresh temporary directory).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Run the DingTalk simulator alone: DingTalk's login page and server APIs, offline.
    Sim {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:9100")]
        listen: String,
        /// Directory (organisation and people) as TOML; the built-in sample when omitted.
        #[arg(long)]
        users: Option<PathBuf>,
        /// Skip the person picker and log in as this userid (or unionid) every time.
        #[arg(long)]
        auto_login: Option<String>,
        /// The person logged in to the simulated DingTalk client (in-app login); by default the
        /// auto-login person, else the first active member.
        #[arg(long)]
        inapp_user: Option<String>,
        /// Make every in-app requestAuthCode fail with this errorCode (e.g. 3: wrong domain).
        #[arg(long, allow_hyphen_values = true)]
        inapp_failure: Option<i64>,
        /// What openAuth answers: ok, cancel, toAdmin or failed.
        #[arg(long, default_value = "ok")]
        open_auth: OpenAuthOutcome,
        /// Answer every API call this many milliseconds late (on top of any delay=MS fault).
        #[arg(long, value_name = "MS")]
        latency_ms: Option<u64>,
        /// Inject a fault into API calls (repeatable; the first matching rule decides a call):
        /// KIND[,path=/api/path][,times=N][,fraction=F], KIND being an HTTP status (503), busy
        /// (oapi -1, api 500 system.busy), rate-limited (oapi 90018, api 403
        /// Forbidden.AccessDenied.QpsLimitForAppkeyAndApi), malformed (a cut-off JSON body), reset
        /// (the connection closed mid-response), delay=MS or lost=STATUS (the call runs, using up
        /// a login code, then STATUS is answered instead). E.g. --fault 502,times=3 or
        /// --fault reset,path=/topapi/v2/user/get,fraction=0.1.
        #[arg(long, value_name = "SPEC")]
        fault: Vec<Fault>,
        /// Roll the faults' fractions from this seed, so that a run can be replayed (the n-th
        /// call a rule matches fares the same each time).
        #[arg(long)]
        seed: Option<u64>,
        /// Enforce DingTalk's per-API rate limit: more calls per second to one API are refused
        /// with the QPS-limit error (DingTalk's documented limit is 20).
        #[arg(long, value_name = "PER_SECOND")]
        rate_limit: Option<u32>,
        /// Invalidate every app token this often, as when the app secret is reset: calls with an
        /// old token get errcode 88 / sub_code 40014.
        #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
        invalidate_app_tokens_every: Option<u64>,
        /// Deliver the organisation's events (the console at /org) by HTTP push to this URL
        /// (e.g. http://127.0.0.1:8080/dingtalk/events), signed and encrypted with
        /// --push-token and --push-aes-key; without it they go by Stream to connected clients.
        #[arg(long, value_name = "URL", requires_all = ["push_token", "push_aes_key"])]
        push_url: Option<String>,
        /// The 签名 token of the HTTP push subscription.
        #[arg(long, value_name = "TOKEN")]
        push_token: Option<String>,
        /// The 43-character 加密 aes_key of the HTTP push subscription.
        #[arg(long, value_name = "KEY")]
        push_aes_key: Option<String>,
    },
    /// Create or upgrade the database schema, then exit.
    Migrate(ConfigArgs),
    /// Validate the configuration: print it with secrets redacted, or every problem (exit code 2).
    CheckConfig(ConfigArgs),
    /// Exit 0 when the server configured here answers /readyz, else 1 (for container health
    /// checks: the runtime image has no curl).
    Healthcheck(ConfigArgs),
    /// Signing keys in the database: list, rotate, export, import. Running servers pick changes
    /// up within keys.reload_every.
    Keys {
        #[command(flatten)]
        config: ConfigArgs,
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Show recent audit events (logins, refresh failures, revocations, logouts, admin actions).
    Audit {
        #[command(flatten)]
        config: ConfigArgs,
        #[command(flatten)]
        filter: AuditArgs,
    },
    /// People who have logged in: list, show, disable (ends their sessions and revokes their
    /// tokens at once; apps are told by back-channel logout), enable.
    Users {
        #[command(flatten)]
        config: ConfigArgs,
        #[command(subcommand)]
        action: UsersAction,
    },
    /// Apps (OIDC clients) managed at run time, beside those in the configuration file (which are
    /// listed as read-only). Changes take effect on every instance within seconds.
    Clients {
        #[command(flatten)]
        config: ConfigArgs,
        #[command(subcommand)]
        action: ClientsAction,
    },
    /// dingo sessions: list the live ones, or end one (its apps are told).
    Sessions {
        #[command(flatten)]
        config: ConfigArgs,
        #[command(subcommand)]
        action: SessionsAction,
    },
}

#[derive(clap::Args)]
struct ConfigArgs {
    /// Configuration file. When not given, dingo.toml is read if it exists.
    #[arg(long, short, env = "DINGO_CONFIG", global = true)]
    config: Option<PathBuf>,
}

impl ConfigArgs {
    fn load(&self) -> Result<Settings, config::ConfigError> {
        let (path, required) = match &self.config {
            Some(path) => (path.as_path(), true),
            None => (Path::new("dingo.toml"), false),
        };
        config::load(path, required, std::env::vars())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli.command))
}

/// Logging as `[log]` says (commands without a configuration use the defaults).
fn init_logging(settings: &config::LogSettings) {
    logging::init(settings, std::env::var("RUST_LOG").ok().as_deref());
}

async fn run(command: Command) -> ExitCode {
    let clock: SharedClock = Arc::new(SystemClock);
    if !matches!(command, Command::Serve(_) | Command::Migrate(_)) {
        init_logging(&config::LogSettings::default());
    }
    let result = match command {
        Command::CheckConfig(args) => return check_config(&args),
        Command::Keys { config, action } => match config.load() {
            Ok(settings) => cli::keys(&settings, action, clock).await,
            Err(e) => return config_error(&e),
        },
        Command::Users { config, action } => match config.load() {
            Ok(settings) => cli::users(&settings, action, clock).await,
            Err(e) => return config_error(&e),
        },
        Command::Clients { config, action } => match config.load() {
            Ok(settings) => cli::clients(&settings, action, clock).await,
            Err(e) => return config_error(&e),
        },
        Command::Sessions { config, action } => match config.load() {
            Ok(settings) => cli::sessions(&settings, action, clock).await,
            Err(e) => return config_error(&e),
        },
        Command::Audit { config, filter } => match config.load() {
            Ok(settings) => cli::audit(&settings, &filter, clock).await,
            Err(e) => return config_error(&e),
        },
        Command::Serve(args) => match args.load() {
            Ok(settings) => {
                init_logging(&settings.log);
                serve(&settings, clock).await
            }
            Err(e) => return config_error(&e),
        },
        Command::Migrate(args) => match args.load() {
            Ok(settings) => {
                init_logging(&settings.log);
                migrate(&settings).await
            }
            Err(e) => return config_error(&e),
        },
        Command::Healthcheck(args) => match args.load() {
            Ok(settings) => healthcheck(&settings).await,
            Err(e) => return config_error(&e),
        },
        Command::Demo { listen, data_dir } => dingo::demo::run(&listen, data_dir, clock).await,
        Command::Sim {
            listen,
            users,
            auto_login,
            inapp_user,
            inapp_failure,
            open_auth,
            latency_ms,
            fault,
            seed,
            rate_limit,
            invalidate_app_tokens_every,
            push_url,
            push_token,
            push_aes_key,
        } => {
            let directory = match users.as_deref().map(Directory::load).transpose() {
                Ok(directory) => directory.unwrap_or_else(Directory::sample),
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let simulator = Simulator::new(directory, clock);
            simulator.set_auto_login(auto_login);
            simulator.set_inapp_user(inapp_user);
            simulator.set_inapp_failure(inapp_failure);
            simulator.set_open_auth_outcome(open_auth);
            simulator.set_latency(Duration::from_millis(latency_ms.unwrap_or(0)));
            for rule in fault {
                simulator.inject(rule);
            }
            simulator.set_fault_seed(seed);
            simulator.set_rate_limit(rate_limit);
            if let Some(seconds) = invalidate_app_tokens_every {
                simulator.invalidate_app_tokens_every(Duration::from_secs(seconds));
            }
            match (push_url, push_token, push_aes_key) {
                (Some(url), Some(token), Some(key)) => {
                    simulator.subscribe_http(Some(dingo::sim::HttpSubscription::new(&url, &token, &key)));
                }
                _ => simulator.subscribe_stream(Some(dingo::sim::StreamSubscription::default())),
            }
            sim(&listen, simulator).await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn config_error(e: &config::ConfigError) -> ExitCode {
    eprint!("{e}");
    ExitCode::from(2)
}

fn check_config(args: &ConfigArgs) -> ExitCode {
    match args.load() {
        Ok(settings) => {
            print!("{}", settings.to_redacted_toml());
            eprintln!("the configuration is valid");
            ExitCode::SUCCESS
        }
        Err(e) => config_error(&e),
    }
}

async fn serve(settings: &Settings, clock: SharedClock) -> anyhow::Result<()> {
    let app = Application::build(settings, clock).await?;
    tracing::info!(issuer = %settings.server.issuer, listen = %settings.server.listen, "dingo is serving");
    app.run_until_stopped().await?;
    Ok(())
}

async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let db = dingo::startup::open_database(&settings.database, 1).await?;
    db.migrate().await?;
    db.close().await;
    eprintln!("the database schema is up to date");
    Ok(())
}

async fn healthcheck(settings: &Settings) -> anyhow::Result<()> {
    let mut address: std::net::SocketAddr = settings.server.listen.parse()?;
    if address.ip().is_unspecified() {
        address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let url = format!("http://{address}{}", dingo::READYZ);
    let response = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()?
        .get(&url)
        .send()
        .await?;
    anyhow::ensure!(response.status().is_success(), "{url}: {}", response.text().await?);
    Ok(())
}

async fn sim(listen: &str, simulator: Simulator) -> anyhow::Result<()> {
    let listener = TcpListener::bind(listen)?;
    eprintln!("DingTalk simulator on http://{}", listener.local_addr()?);
    simulator.serve(listener)?.await?;
    Ok(())
}
