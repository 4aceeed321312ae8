//! `dingo keys …`: list, rotate, export and import signing keys in the database, also while
//! servers run (they pick the change up at their next upkeep round).

use std::path::PathBuf;

use crate::clock::SharedClock;
use crate::config::Settings;
use crate::crypto::Alg;
use crate::store::Db;

use super::{Keyring, Rotation, format_time, list, render};

#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
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

/// Runs one `dingo keys` command against the database of `settings`.
pub async fn run(settings: &Settings, command: KeysCommand, clock: SharedClock) -> anyhow::Result<()> {
    let db = Db::open(&settings.database, 2).await?;
    db.migrate().await?;
    let action = match &command {
        KeysCommand::List => None,
        KeysCommand::Rotate { .. } => Some("keys_rotated"),
        KeysCommand::Export { .. } => Some("key_exported"),
        KeysCommand::Import { .. } => Some("key_imported"),
    };
    let now = clock.now();
    let result = execute(settings, command, &db, clock).await;
    if let (Some(action), Ok(())) = (action, &result) {
        let event = crate::store::AuditEvent {
            id: crate::crypto::random_token(),
            at: now,
            kind: "admin".into(),
            outcome: action.into(),
            userid: None,
            client_id: None,
            route: None,
            detail: None,
        };
        if let Err(e) = db.record_audit_event(&event).await {
            tracing::error!(cause = %e, "cannot record an audit event");
        }
    }
    db.close().await;
    result
}

async fn execute(settings: &Settings, command: KeysCommand, db: &Db, clock: SharedClock) -> anyhow::Result<()> {
    if let KeysCommand::List = command {
        print!("{}", render(&list(db, clock.now()).await?));
        return Ok(());
    }
    let keyring = Keyring::open(settings, db.clone(), clock.clone()).await?;
    match command {
        KeysCommand::List => {}
        KeysCommand::Rotate { alg, now } => {
            let algs = match alg.as_str() {
                "all" => keyring.algorithms().to_vec(),
                one => vec![one.parse::<Alg>().map_err(anyhow::Error::msg)?],
            };
            for alg in algs {
                let rotation = keyring.rotate(alg, now).await?;
                println!("{}", describe(alg, &rotation, clock.now()));
            }
        }
        KeysCommand::Export { kid } => {
            let pem = keyring.export_pem(&kid).await?;
            eprintln!("warning: this is the private signing key {kid} in clear; keep it secret");
            print!("{pem}");
        }
        KeysCommand::Import { file, alg, next } => {
            let alg = alg
                .as_deref()
                .map(str::parse::<Alg>)
                .transpose()
                .map_err(anyhow::Error::msg)?;
            let text = std::fs::read_to_string(&file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let rotation = keyring.import_pem(&text, alg, next).await?;
            let alg = match &rotation {
                Rotation::Created { kid, .. } | Rotation::AlreadyNext { kid, .. } => {
                    db.find_signing_key(kid).await?.map(|k| k.alg).unwrap_or_default()
                }
            };
            println!("{alg}: {}", describe_key(&rotation, clock.now()));
        }
    }
    Ok(())
}

fn describe(alg: Alg, rotation: &Rotation, now: i64) -> String {
    format!("{alg}: {}", describe_key(rotation, now))
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
