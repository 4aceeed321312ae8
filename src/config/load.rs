//! Reading the file, laying the environment over it, collecting every problem.

use std::collections::BTreeMap;
use std::path::Path;

/// The shortest client secret dingo accepts from `secret_env` or `secret_file`.
pub const MIN_CLIENT_SECRET_CHARS: usize = 32;

use super::{Secret, Settings, validate};

const ENV_PREFIX: &str = "DINGO_";

/// One thing wrong with the configuration, at a key path such as `clients[0].redirect_uris[1]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl Problem {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Every problem found in one load, in the order found.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "the configuration has {} problem(s):", self.problems.len())?;
        for p in &self.problems {
            writeln!(f, "  - {}: {}", p.path, p.message)?;
        }
        Ok(())
    }
}

/// Loads `path` (when it exists, or always when `required`) plus the `DINGO_*` variables of `env`.
pub fn load(
    path: &Path,
    required: bool,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Settings, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => String::new(),
        Err(e) => {
            return Err(ConfigError {
                problems: vec![Problem::new(path.display().to_string(), format!("cannot read: {e}"))],
            });
        }
    };
    load_str(&text, env)
}

/// Loads settings from TOML text plus the `DINGO_*` variables of `env`.
pub fn load_str(text: &str, env: impl IntoIterator<Item = (String, String)>) -> Result<Settings, ConfigError> {
    let env: BTreeMap<String, String> = env.into_iter().collect();
    let mut problems = Vec::new();
    let mut table: toml::Table = match text.parse() {
        Ok(table) => table,
        Err(e) => {
            return Err(ConfigError {
                problems: vec![Problem::new("(file)", format!("not valid TOML: {}", e.message()))],
            });
        }
    };
    let from_env = apply_env(&mut table, &env, &mut problems);

    let mut unknown = Vec::new();
    let parsed: Result<Settings, _> = serde_path_to_error::deserialize(serde_ignored::Deserializer::new(
        toml::Value::Table(table),
        &mut |path: serde_ignored::Path<'_>| unknown.push(path.to_string()),
    ));
    for key in unknown {
        let origin = from_env
            .get(&key)
            .map(|var| format!(" (set by {var})"))
            .unwrap_or_default();
        problems.push(Problem::new(bracket_indices(&key), format!("unknown key{origin}")));
    }
    let mut settings = match parsed {
        Ok(settings) => settings,
        Err(e) => {
            let path = bracket_indices(&e.path().to_string());
            let message = e.into_inner().to_string();
            let message = message.lines().next().unwrap_or_default().to_owned();
            problems.push(Problem::new(path, message));
            return Err(ConfigError { problems });
        }
    };
    resolve_secrets(&mut settings, &env, &mut problems);
    problems.extend(validate::validate(&settings));
    if problems.is_empty() {
        Ok(settings)
    } else {
        Err(ConfigError { problems })
    }
}

/// `clients.0.name` → `clients[0].name`, the form validation uses too.
fn bracket_indices(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for segment in path.split('.') {
        if !out.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(segment);
        }
    }
    out
}

/// Lays `DINGO_SECTION__KEY=value` over the table; returns which key each variable set.
fn apply_env(
    table: &mut toml::Table,
    env: &BTreeMap<String, String>,
    problems: &mut Vec<Problem>,
) -> BTreeMap<String, String> {
    let mut origins = BTreeMap::new();
    for (var, value) in env {
        let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let Some((section, key)) = rest.split_once("__") else {
            continue;
        };
        let (section, key) = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
        if section.is_empty() || key.is_empty() || key.contains("__") {
            problems.push(Problem::new(var.clone(), "expected DINGO_<SECTION>__<KEY>"));
            continue;
        }
        let entry = table
            .entry(section.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let Some(section_table) = entry.as_table_mut() else {
            problems.push(Problem::new(
                var.clone(),
                format!("`{section}` cannot be set from the environment"),
            ));
            continue;
        };
        section_table.insert(key.clone(), toml::Value::String(value.clone()));
        origins.insert(format!("{section}.{key}"), var.clone());
    }
    origins
}

/// Reads secrets given by file or environment variable; client secrets become their hash.
fn resolve_secrets(settings: &mut Settings, env: &BTreeMap<String, String>, problems: &mut Vec<Problem>) {
    let d = &mut settings.dingtalk;
    secret_from_file(
        &mut d.client_secret,
        &d.client_secret_file,
        "dingtalk.client_secret",
        problems,
    );
    secret_from_file(
        &mut d.legacy_app_secret,
        &d.legacy_app_secret_file,
        "dingtalk.legacy_app_secret",
        problems,
    );
    let e = &mut settings.events;
    secret_from_file(&mut e.token, &e.token_file, "events.token", problems);
    secret_from_file(&mut e.aes_key, &e.aes_key_file, "events.aes_key", problems);
    let db = &mut settings.database;
    secret_from_file(&mut db.password, &db.password_file, "database.password", problems);
    let k = &mut settings.keys;
    secret_from_file(&mut k.kek, &k.kek_file, "keys.kek", problems);
    let i = &mut settings.identity;
    secret_from_file(
        &mut i.pairwise_secret,
        &i.pairwise_secret_file,
        "identity.pairwise_secret",
        problems,
    );
    for (i, client) in settings.clients.iter_mut().enumerate() {
        let given = [
            client.secret_sha256.is_some(),
            client.secret_env.is_some(),
            client.secret_file.is_some(),
        ];
        if given.iter().filter(|g| **g).count() > 1 {
            problems.push(Problem::new(
                format!("clients[{i}]"),
                "give only one of secret_sha256, secret_env, secret_file",
            ));
            continue;
        }
        let secret = if let Some(var) = &client.secret_env {
            match env.get(var) {
                Some(value) if !value.is_empty() => Some(Secret::new(value.as_str())),
                _ => {
                    problems.push(Problem::new(
                        format!("clients[{i}].secret_env"),
                        format!("environment variable {var} is not set"),
                    ));
                    None
                }
            }
        } else if let Some(path) = &client.secret_file {
            read_secret_file(path)
                .map_err(|m| problems.push(Problem::new(format!("clients[{i}].secret_file"), m)))
                .ok()
        } else {
            None
        };
        if let Some(secret) = secret {
            // Stored as a plain SHA-256: only a long random secret resists guessing if the
            // configuration or the database leaks.
            if secret.expose().chars().count() < MIN_CLIENT_SECRET_CHARS {
                let key = if client.secret_env.is_some() {
                    "secret_env"
                } else {
                    "secret_file"
                };
                problems.push(Problem::new(
                    format!("clients[{i}].{key}"),
                    format!(
                        "the secret is too short: use at least {MIN_CLIENT_SECRET_CHARS} random characters (for instance `openssl rand -base64 32`)"
                    ),
                ));
                continue;
            }
            client.secret_sha256 = Some(Secret::new(crate::crypto::sha256_hex(secret.expose())));
        }
    }
}

/// Fills `secret` from `file` when one is named (`key` and `key_file` may not both be set).
fn secret_from_file(secret: &mut Secret, file: &Option<std::path::PathBuf>, key: &str, problems: &mut Vec<Problem>) {
    let Some(path) = file else { return };
    let file_key = format!("{key}_file");
    if !secret.is_empty() {
        problems.push(Problem::new(
            &file_key,
            format!("give either {key} or {file_key}, not both"),
        ));
    }
    match read_secret_file(path) {
        Ok(value) => *secret = value,
        Err(message) => problems.push(Problem::new(file_key, message)),
    }
}

fn read_secret_file(path: &Path) -> Result<Secret, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let secret = text.trim_end_matches(['\r', '\n']);
            if secret.is_empty() {
                Err(format!("{} is empty", path.display()))
            } else {
                Ok(Secret::new(secret))
            }
        }
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests;
