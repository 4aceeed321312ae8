//! `dingo users | sessions | clients | keys | audit`: the command line's adapter over the admin
//! service. It parses arguments, makes one call, and prints the answer; the changes it makes are
//! audited as made by `cli`. Running servers see them within seconds.

use std::path::PathBuf;

use clap::Subcommand;

use super::{Actor, Admin, ClientSource, tables};
use crate::clock::SharedClock;
use crate::config::{ClientSettings, Settings};
use crate::crypto::Alg;
use crate::keyring::{Rotation, format_time, list, render};

#[derive(Debug, Subcommand)]
pub enum UsersAction {
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

#[derive(Debug, Subcommand)]
pub enum ClientsAction {
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

#[derive(Debug, clap::Args)]
pub struct ClientArgs {
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
    fn apply(self, mut base: ClientSettings) -> ClientSettings {
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

#[derive(Debug, Subcommand)]
pub enum SessionsAction {
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

#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Every key: kid, algorithm, state (next, signing, retiring, retired) and its times (UTC).
    List,
    /// Create a new key: published now, signing after keys.publish_ahead (or at once with --now,
    /// the current key then retiring).
    Rotate {
        /// RS256, ES256, EdDSA, or all (every algorithm in keys.algorithms).
        #[arg(long, default_value = "all")]
        alg: String,
        /// Sign with the new key at once. Relying parties that cached the JWKS may fail to verify
        /// its tokens until they refetch it: prefer a normal rotation.
        #[arg(long)]
        now: bool,
    },
    /// Print a private key as PKCS#8 PEM on standard output.
    Export {
        /// The key's kid (kids may begin with "-").
        #[arg(long, allow_hyphen_values = true)]
        kid: String,
    },
    /// Store a private key from a PKCS#8 PEM file: signing at once, or with --next as the next key.
    Import {
        file: PathBuf,
        /// The key's algorithm (found from the key when omitted).
        #[arg(long)]
        alg: Option<String>,
        /// Publish it now and let it sign after keys.publish_ahead.
        #[arg(long)]
        next: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
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

pub async fn users(settings: &Settings, action: UsersAction, clock: SharedClock) -> anyhow::Result<()> {
    let admin = crate::startup::admin_service(settings, clock).await?;
    let actor = Actor::Cli;
    let result = async {
        match action {
            UsersAction::List { limit } => print!("{}", tables::people_table(&admin.people(limit).await?)),
            UsersAction::Show { userid } => {
                let person = admin.person(&userid).await?;
                println!("{}", serde_json::to_string_pretty(&person.identity)?);
                println!("disabled: {}", person.disabled);
                print!("{}", tables::sessions_table(&person.sessions));
            }
            UsersAction::Disable { userid } => {
                admin.disable_person(&actor, &userid).await?;
                println!("{userid} is disabled; their sessions ended and their tokens are revoked");
            }
            UsersAction::Enable { userid } => {
                admin.enable_person(&actor, &userid).await?;
                println!("{userid} may log in again");
            }
        }
        anyhow::Ok(())
    }
    .await;
    admin.close().await;
    result
}

pub async fn sessions(settings: &Settings, action: SessionsAction, clock: SharedClock) -> anyhow::Result<()> {
    let admin = crate::startup::admin_service(settings, clock).await?;
    let result = async {
        match action {
            SessionsAction::List { user, limit } => {
                print!(
                    "{}",
                    tables::sessions_table(&admin.sessions(user.as_deref(), limit).await?)
                );
            }
            SessionsAction::Revoke { sid } => {
                admin.end_session(&Actor::Cli, &sid).await?;
                println!("session {sid} ended");
            }
        }
        anyhow::Ok(())
    }
    .await;
    admin.close().await;
    result
}

pub async fn clients(settings: &Settings, action: ClientsAction, clock: SharedClock) -> anyhow::Result<()> {
    let admin = crate::startup::admin_service(settings, clock).await?;
    let result = clients_with(&admin, action).await;
    admin.close().await;
    result
}

async fn clients_with(admin: &Admin, action: ClientsAction) -> anyhow::Result<()> {
    let actor = Actor::Cli;
    match action {
        ClientsAction::Add(args) => {
            let defaults = ClientSettings {
                scopes: ["openid", "profile", "email", "phone"].map(String::from).to_vec(),
                ..Default::default()
            };
            let client = args.apply(defaults);
            let secret = admin.add_client(&actor, &client).await?;
            println!("client {} added", client.client_id);
            if let Some(secret) = secret {
                println!("client_secret: {secret}");
                println!("(shown once: dingo keeps only its SHA-256)");
            }
        }
        ClientsAction::List => {
            println!("{:<24} {:<10} {:<16} redirect URIs", "client_id", "source", "kind");
            for c in admin.clients().await? {
                let source = match c.source {
                    ClientSource::Configured => "config",
                    ClientSource::Managed => "managed",
                };
                let s = &c.settings;
                println!(
                    "{:<24} {:<10} {:<16} {}",
                    s.client_id,
                    source,
                    c.kind.as_str(),
                    s.redirect_uris.join(" ")
                );
            }
        }
        ClientsAction::Show { client_id } => {
            let client = admin.client(&client_id).await?;
            let source = match client.source {
                ClientSource::Configured => "configuration file (read-only)",
                ClientSource::Managed => "managed",
            };
            println!("# {source}");
            print!("{}", toml::to_string_pretty(&client.settings)?);
        }
        ClientsAction::Update(args) => {
            let base = admin.client(&args.client_id).await?.settings;
            let client = args.apply(base);
            admin.update_client(&actor, &client).await?;
            println!("client {} updated", client.client_id);
        }
        ClientsAction::Remove { client_id } => {
            admin.remove_client(&actor, &client_id).await?;
            println!("client {client_id} removed");
        }
        ClientsAction::RotateSecret { client_id } => {
            let secret = admin.rotate_client_secret(&actor, &client_id).await?;
            println!("client_secret: {secret}");
            println!("(shown once: dingo keeps only its SHA-256; the previous secret no longer works)");
        }
    }
    Ok(())
}

pub async fn keys(settings: &Settings, action: KeysAction, clock: SharedClock) -> anyhow::Result<()> {
    let now = clock.now();
    if let KeysAction::List = action {
        // Listing needs neither the key-encryption key nor anything but the database.
        let db = crate::startup::open_database(&settings.database, 1).await?;
        db.migrate().await?;
        let keys = list(&db, now).await;
        db.close().await;
        print!("{}", render(&keys?));
        return Ok(());
    }
    let admin = crate::startup::admin_service(settings, clock).await?;
    let result = keys_with(&admin, action, now).await;
    admin.close().await;
    result
}

async fn keys_with(admin: &Admin, action: KeysAction, now: i64) -> anyhow::Result<()> {
    let actor = Actor::Cli;
    match action {
        KeysAction::List => {}
        KeysAction::Rotate { alg, now: immediately } => {
            let algs = match alg.as_str() {
                "all" => Vec::new(),
                one => vec![one.parse::<Alg>().map_err(anyhow::Error::msg)?],
            };
            for (alg, rotation) in admin.rotate_keys(&actor, &algs, immediately).await? {
                println!("{alg}: {}", describe_key(&rotation, now));
            }
        }
        KeysAction::Export { kid } => {
            let pem = admin.export_key(&actor, &kid).await?;
            eprintln!("warning: this is the private signing key {kid} in clear; keep it secret");
            print!("{pem}");
        }
        KeysAction::Import { file, alg, next } => {
            let alg = alg
                .as_deref()
                .map(str::parse::<Alg>)
                .transpose()
                .map_err(anyhow::Error::msg)?;
            let text = std::fs::read_to_string(&file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let (rotation, alg) = admin.import_key(&actor, &text, alg, next).await?;
            println!("{alg}: {}", describe_key(&rotation, now));
        }
    }
    Ok(())
}

fn describe_key(rotation: &Rotation, now: i64) -> String {
    match rotation {
        Rotation::Created { kid, activates_at } if *activates_at <= now => {
            format!("{kid} signs now; the key it replaces stays published until its tokens expire")
        }
        Rotation::Created { kid, activates_at } => {
            format!("{kid} published, signs from {} UTC", format_time(*activates_at))
        }
        Rotation::AlreadyNext { kid, activates_at } => format!(
            "{kid} is already the next key, signing from {} UTC (use --now to replace it at once)",
            format_time(*activates_at)
        ),
    }
}

pub async fn audit(settings: &Settings, args: &AuditArgs, clock: SharedClock) -> anyhow::Result<()> {
    let now = clock.now();
    let time = |t: &Option<String>| t.as_deref().map(|t| super::parse_time(t, now)).transpose();
    let filter = tables::filter(
        args.user.clone(),
        args.client.clone(),
        args.outcome.clone(),
        args.kind.clone(),
        time(&args.since).map_err(anyhow::Error::msg)?,
        time(&args.until).map_err(anyhow::Error::msg)?,
        args.limit,
    );
    // Reading the audit log needs only the database.
    let db = crate::startup::open_database(&settings.database, 1).await?;
    db.migrate().await?;
    let events = db.audit_events(&filter).await;
    db.close().await;
    let events = events?;
    if args.json {
        print!("{}", tables::json_lines(&events));
    } else {
        print!("{}", tables::audit_table(&events));
    }
    Ok(())
}
