//! The `dingo` command line.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use dingo::clock::{SharedClock, SystemClock};
use dingo::config::{self, Settings};
use dingo::sim::{Directory, Fault, OpenAuthOutcome, Simulator};
use dingo::startup::Application;
use dingo::store::Db;
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
        /// (the connection closed mid-response) or delay=MS. E.g. --fault 502,times=3 or
        /// --fault reset,path=/topapi/v2/user/get,fraction=0.1.
        #[arg(long, value_name = "SPEC")]
        fault: Vec<Fault>,
        /// Enforce DingTalk's per-API rate limit: more calls per second to one API are refused
        /// with the QPS-limit error (DingTalk's documented limit is 20).
        #[arg(long, value_name = "PER_SECOND")]
        rate_limit: Option<u32>,
        /// Invalidate every app token this often, as when the app secret is reset: calls with an
        /// old token get errcode 88 / sub_code 40014.
        #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
        invalidate_app_tokens_every: Option<u64>,
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
        action: dingo::keyring::cli::KeysCommand,
    },
    /// Show recent audit events (logins, refresh failures, revocations, logouts, admin actions).
    Audit(AuditArgs),
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

#[derive(Subcommand)]
enum UsersAction {
    /// People who have logged in, most recent first.
    List {
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// One person's profile as DingTalk gave it at their last login, and their sessions.
    Show { userid: String },
    /// Stop a person from logging in, end their sessions and revoke their tokens.
    Disable { userid: String },
    /// Let a disabled person log in again.
    Enable { userid: String },
}

#[derive(Subcommand)]
enum ClientsAction {
    /// Register an app; a confidential app's secret is printed once (only its hash is kept).
    Add(ClientArgs),
    /// Every app: from the configuration file (read-only) and managed ones.
    List,
    /// One app's settings.
    Show { client_id: String },
    /// Change a managed app: the options given replace its settings.
    Update(ClientArgs),
    /// Remove a managed app.
    Remove { client_id: String },
    /// Give a managed confidential app a new secret (printed once); the old one stops working.
    RotateSecret { client_id: String },
}

#[derive(clap::Args)]
struct ClientArgs {
    client_id: String,
    /// Shown to people on dingo's pages.
    #[arg(long)]
    name: Option<String>,
    /// A redirect URI (repeat for several): absolute, no fragment, matched exactly.
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// A scope the app may receive (repeat); default openid profile email phone.
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// A public app (SPA, native): no secret, PKCE required.
    #[arg(long)]
    public: bool,
    /// Where the app may send people after logout (repeat).
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// Where the app receives back-channel logout tokens.
    #[arg(long)]
    backchannel_logout_uri: Option<String>,
    /// opaque or jwt.
    #[arg(long)]
    access_token_format: Option<String>,
    /// RS256, ES256 or EdDSA.
    #[arg(long)]
    id_token_signed_response_alg: Option<String>,
}

impl ClientArgs {
    /// `base` with the options given laid over it.
    fn apply(self, mut base: dingo::config::ClientSettings) -> dingo::config::ClientSettings {
        base.client_id = self.client_id;
        if let Some(name) = self.name {
            base.name = name;
        }
        if !self.redirect_uris.is_empty() {
            base.redirect_uris = self.redirect_uris;
        }
        if !self.scopes.is_empty() {
            base.scopes = self.scopes;
        }
        if self.public {
            base.public = true;
        }
        if !self.post_logout_redirect_uris.is_empty() {
            base.post_logout_redirect_uris = self.post_logout_redirect_uris;
        }
        base.backchannel_logout_uri = self.backchannel_logout_uri.or(base.backchannel_logout_uri);
        base.access_token_format = self.access_token_format.or(base.access_token_format);
        base.id_token_signed_response_alg = self.id_token_signed_response_alg.or(base.id_token_signed_response_alg);
        base
    }
}

#[derive(Subcommand)]
enum SessionsAction {
    /// Live sessions, newest first.
    List {
        /// Only this person's.
        #[arg(long)]
        user: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// End the session with this sid (sids may begin with "-").
    Revoke {
        #[arg(allow_hyphen_values = true)]
        sid: String,
    },
}

#[derive(clap::Args)]
struct AuditArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Only events about this person (userid).
    #[arg(long)]
    user: Option<String>,
    /// Only events about this app (client_id).
    #[arg(long)]
    client: Option<String>,
    /// Only this outcome (success, refused_not_member, refused_policy, invalid_grant, …).
    #[arg(long)]
    outcome: Option<String>,
    /// Only this kind: login, refresh, revocation, logout or admin.
    #[arg(long)]
    kind: Option<String>,
    /// From this time: unix seconds, 2026-01-31, 2026-01-31T08:00:00Z, or an age like 24h or 7d.
    #[arg(long)]
    since: Option<String>,
    /// Up to this time (same forms).
    #[arg(long)]
    until: Option<String>,
    /// At most this many events, newest first.
    #[arg(long, default_value_t = 50)]
    limit: i64,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
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
            Ok(settings) => dingo::keyring::cli::run(&settings, action, clock).await,
            Err(e) => return config_error(&e),
        },
        Command::Users { config, action } => match config.load() {
            Ok(settings) => users(&settings, action, clock).await,
            Err(e) => return config_error(&e),
        },
        Command::Clients { config, action } => match config.load() {
            Ok(settings) => clients(&settings, action, clock).await,
            Err(e) => return config_error(&e),
        },
        Command::Sessions { config, action } => match config.load() {
            Ok(settings) => sessions(&settings, action, clock).await,
            Err(e) => return config_error(&e),
        },
        Command::Audit(args) => match args.config.load() {
            Ok(settings) => audit(&settings, &args, clock.now()).await,
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
            rate_limit,
            invalidate_app_tokens_every,
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
            simulator.set_rate_limit(rate_limit);
            if let Some(seconds) = invalidate_app_tokens_every {
                simulator.invalidate_app_tokens_every(Duration::from_secs(seconds));
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
    let db = Db::open(&settings.database, 1).await?;
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

async fn audit(settings: &Settings, args: &AuditArgs, now: i64) -> anyhow::Result<()> {
    let time = |t: &Option<String>| t.as_deref().map(|t| dingo::admin::parse_time(t, now)).transpose();
    let filter = dingo::admin::audit::filter(
        args.user.clone(),
        args.client.clone(),
        args.outcome.clone(),
        args.kind.clone(),
        time(&args.since).map_err(anyhow::Error::msg)?,
        time(&args.until).map_err(anyhow::Error::msg)?,
        args.limit,
    );
    let db = Db::open(&settings.database, 1).await?;
    db.migrate().await?;
    let events = db.audit_events(&filter).await?;
    db.close().await;
    if args.json {
        print!("{}", dingo::admin::audit::json_lines(&events));
    } else {
        print!("{}", dingo::admin::audit::table(&events));
    }
    Ok(())
}

async fn users(settings: &Settings, action: UsersAction, clock: SharedClock) -> anyhow::Result<()> {
    let now = clock.now();
    let provider = dingo::startup::admin_provider(settings, clock).await?;
    let db = provider.db();
    match action {
        UsersAction::List { limit } => print!(
            "{}",
            dingo::admin::people::people_table(&db.list_people(now, limit).await?)
        ),
        UsersAction::Show { userid } => {
            let user = db
                .find_user(&userid)
                .await?
                .ok_or_else(|| anyhow::anyhow!("nobody with userid {userid:?} has logged in"))?;
            println!("{}", serde_json::to_string_pretty(&user.identity)?);
            println!("disabled: {}", db.is_user_disabled(&userid).await?);
            print!(
                "{}",
                dingo::admin::people::sessions_table(&db.live_sessions(Some(&userid), now, 100).await?)
            );
        }
        UsersAction::Disable { userid } => {
            if !provider.disable_user(&userid).await? {
                anyhow::bail!("nobody with userid {userid:?} has logged in");
            }
            println!("{userid} is disabled; their sessions ended and their tokens are revoked");
        }
        UsersAction::Enable { userid } => {
            if !provider.enable_user(&userid).await? {
                anyhow::bail!("nobody with userid {userid:?} has logged in");
            }
            println!("{userid} may log in again");
        }
    }
    db.close().await;
    Ok(())
}

async fn sessions(settings: &Settings, action: SessionsAction, clock: SharedClock) -> anyhow::Result<()> {
    let now = clock.now();
    let provider = dingo::startup::admin_provider(settings, clock).await?;
    let db = provider.db();
    match action {
        SessionsAction::List { user, limit } => {
            print!(
                "{}",
                dingo::admin::people::sessions_table(&db.live_sessions(user.as_deref(), now, limit).await?)
            );
        }
        SessionsAction::Revoke { sid } => {
            if !provider.revoke_session(&sid).await? {
                anyhow::bail!("no session with sid {sid:?}");
            }
            println!("session {sid} ended");
        }
    }
    db.close().await;
    Ok(())
}

async fn clients(settings: &Settings, action: ClientsAction, clock: SharedClock) -> anyhow::Result<()> {
    let provider = dingo::startup::admin_provider(settings, clock).await?;
    let managed = provider.db().managed_clients().await?;
    let find = |id: &str| {
        settings
            .clients
            .iter()
            .find(|c| c.client_id == id)
            .cloned()
            .or_else(|| managed.iter().find(|(c, _)| c.client_id == id).map(|(c, _)| c.clone()))
            .ok_or_else(|| anyhow::anyhow!("no client {id:?}"))
    };
    match action {
        ClientsAction::Add(args) => {
            let defaults = dingo::config::ClientSettings {
                scopes: ["openid", "profile", "email", "phone"].map(String::from).to_vec(),
                ..Default::default()
            };
            let client = args.apply(defaults);
            let secret = provider.add_client(&client).await?;
            println!("client {} added", client.client_id);
            if let Some(secret) = secret {
                println!("client_secret: {secret}");
                println!("(shown once: dingo keeps only its SHA-256)");
            }
        }
        ClientsAction::List => {
            println!("{:<24} {:<10} {:<16} redirect URIs", "client_id", "source", "kind");
            let configured = settings.clients.iter().map(|c| (c, "config"));
            let runtime = managed.iter().map(|(c, _)| (c, "managed"));
            for (c, source) in configured.chain(runtime) {
                let kind = match (c.public, c.token_endpoint_auth_method.as_deref()) {
                    (true, _) | (_, Some("none")) => "public",
                    (_, Some("private_key_jwt")) => "private_key_jwt",
                    _ => "confidential",
                };
                println!(
                    "{:<24} {:<10} {:<16} {}",
                    c.client_id,
                    source,
                    kind,
                    c.redirect_uris.join(" ")
                );
            }
        }
        ClientsAction::Show { client_id } => {
            let client = find(&client_id)?;
            let source = if provider.is_configured_client(&client_id) {
                "configuration file (read-only)"
            } else {
                "managed"
            };
            println!("# {source}");
            print!("{}", toml::to_string_pretty(&client)?);
        }
        ClientsAction::Update(args) => {
            let base = find(&args.client_id)?;
            let client = args.apply(base);
            provider.update_client(&client).await?;
            println!("client {} updated", client.client_id);
        }
        ClientsAction::Remove { client_id } => {
            provider.remove_client(&client_id).await?;
            println!("client {client_id} removed");
        }
        ClientsAction::RotateSecret { client_id } => {
            let secret = provider.rotate_client_secret(&client_id).await?;
            println!("client_secret: {secret}");
            println!("(shown once: dingo keeps only its SHA-256; the previous secret no longer works)");
        }
    }
    provider.db().close().await;
    Ok(())
}
