//! The signing keys of every instance: kept in the database with their private parts sealed
//! under the key-encryption key, rotated on a schedule, and loaded into the [`KeySet`] this
//! instance signs with and publishes. A rotation made by another instance or by `dingo keys` is
//! picked up by [`Keyring::reload`], which every upkeep round (each minute) ends with.
//!
//! Races between instances are settled by the database: every new key names the key it takes
//! over from (`successor_of`, unique), so of two instances rotating at once only one stores a key.

mod files;
mod table;

use std::sync::Arc;

use crate::clock::SharedClock;
use crate::config::{KeySettings, Settings, TokenSettings};
use crate::crypto::{Alg, Kek, KeyError, KeySet, KeyState, KeyTimes, Schedule, ScheduledKey, SigningKey};
use crate::store::{Db, StoreError, StoredSigningKey};

pub use files::KEK_FILE;
pub use table::{format_time, render};

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("key-encryption key: {0}")]
    Kek(String),
    #[error("{path}: {reason}")]
    File { path: std::path::PathBuf, reason: String },
    #[error("stored signing key {kid}: {reason}")]
    Corrupt { kid: String, reason: String },
    #[error("no signing key {0}")]
    UnknownKey(String),
    #[error("{0}")]
    Refused(String),
}

/// A stored key as `dingo keys list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub kid: String,
    pub alg: String,
    pub state: KeyState,
    pub times: KeyTimes,
}

/// What a rotation did for one algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// A new key was stored; it signs from `activates_at`.
    Created { kid: String, activates_at: i64 },
    /// The algorithm already has a next key (possibly just created by another instance).
    AlreadyNext { kid: String, activates_at: i64 },
}

/// The schedule the settings describe: a superseded key stays published as long as the longest
/// token it may have signed lives.
pub fn schedule(keys: &KeySettings, tokens: &TokenSettings) -> Schedule {
    Schedule {
        publish_ahead: keys.publish_ahead,
        rotate_every: keys.rotate_every,
        retire_after: tokens
            .id_token_ttl
            .max(tokens.access_token_ttl)
            .max(crate::config::LOGOUT_TOKEN_TTL),
    }
}

/// The associated data a private key is sealed with: it cannot be moved to another row.
fn aad(kid: &str, alg: &str) -> Vec<u8> {
    format!("dingo signing key|{kid}|{alg}").into_bytes()
}

/// Every stored key with its state at `now` (no key-encryption key needed).
pub async fn list(db: &Db, now: i64) -> Result<Vec<KeyInfo>, KeyringError> {
    let rows = db.signing_keys().await?;
    Ok(describe(&rows, now))
}

/// The state of each row at `now`: of several activated, unretired keys of one algorithm only
/// the newest signs (as in [`KeySet`]); the others count as retiring.
fn describe(rows: &[StoredSigningKey], now: i64) -> Vec<KeyInfo> {
    let signing: Vec<&str> = Alg::ALL
        .iter()
        .filter_map(|alg| signing_row(rows, alg.as_str(), now).map(|r| r.kid.as_str()))
        .collect();
    let mut infos: Vec<KeyInfo> = rows
        .iter()
        .map(|r| {
            let times = times_of(r);
            let state = match times.state_at(now) {
                KeyState::Signing if !signing.contains(&r.kid.as_str()) => KeyState::Retiring,
                state => state,
            };
            KeyInfo {
                kid: r.kid.clone(),
                alg: r.alg.clone(),
                state,
                times,
            }
        })
        .collect();
    let alg_rank = |alg: &str| {
        Alg::ALL
            .iter()
            .position(|a| a.as_str() == alg)
            .unwrap_or(Alg::ALL.len())
    };
    infos.sort_by_key(|k| (alg_rank(&k.alg), k.times.activates_at, k.times.created_at));
    infos
}

fn times_of(r: &StoredSigningKey) -> KeyTimes {
    KeyTimes {
        created_at: r.created_at,
        activates_at: r.activates_at,
        retires_at: r.retires_at,
        removed_at: r.removed_at,
    }
}

/// The row that signs for `alg` at `now`: the newest activated, unretired one.
fn signing_row<'a>(rows: &'a [StoredSigningKey], alg: &str, now: i64) -> Option<&'a StoredSigningKey> {
    rows.iter()
        .filter(|r| r.alg == alg && times_of(r).state_at(now) == KeyState::Signing)
        .max_by_key(|r| (r.activates_at, r.created_at))
}

/// The next key of `alg` at `now`, if one is waiting.
fn next_row<'a>(rows: &'a [StoredSigningKey], alg: &str, now: i64) -> Option<&'a StoredSigningKey> {
    rows.iter()
        .filter(|r| r.alg == alg && times_of(r).state_at(now) == KeyState::Next)
        .max_by_key(|r| (r.activates_at, r.created_at))
}

/// The slot a key that signs at once for `alg` takes over: the key signing now, else the newest
/// key that ever signed, else the algorithm's first slot. Instances racing compute the same
/// slot, so only one of them wins.
fn takeover_slot(rows: &[StoredSigningKey], alg: &str, now: i64) -> String {
    signing_row(rows, alg, now)
        .or_else(|| {
            rows.iter()
                .filter(|r| r.alg == alg && (r.activates_at <= now || r.activates_at <= r.created_at))
                .max_by_key(|r| (r.activates_at, r.created_at))
        })
        .map(|r| r.kid.clone())
        .unwrap_or_else(|| format!("first:{alg}"))
}

/// The signing keys in the database, and the [`KeySet`] built from them.
#[derive(Debug)]
pub struct Keyring {
    stored: Stored,
    clock: SharedClock,
    set: Arc<KeySet>,
}

/// The keys as the database holds them, and how they are sealed and scheduled.
#[derive(Debug)]
struct Stored {
    db: Db,
    kek: Kek,
    schedule: Schedule,
    algorithms: Vec<Alg>,
}

impl Keyring {
    /// Opens the keys for `settings`: the key-encryption key (generated into `keys.dir` when the
    /// database holds no key yet and `keys.kek` is not set), PEM keys of earlier versions
    /// imported once, keys of algorithms no longer kept retired, and a key generated, signing at
    /// once, for each kept algorithm that has none.
    pub async fn open(settings: &Settings, db: Db, clock: SharedClock) -> Result<Self, KeyringError> {
        let keys = &settings.keys;
        let rows = db.signing_keys().await?;
        let kek = if keys.kek.is_empty() {
            match files::read_kek(&keys.dir)? {
                Some(kek) => kek,
                None if rows.is_empty() => files::create_kek(&keys.dir)?,
                None => {
                    return Err(KeyringError::Kek(format!(
                        "the database holds signing keys sealed under a key-encryption key, but keys.kek is not set \
                         and {} does not exist",
                        keys.dir.join(KEK_FILE).display()
                    )));
                }
            }
        } else {
            Kek::from_base64(keys.kek.expose()).map_err(KeyringError::Kek)?
        };
        let stored = Stored {
            db,
            kek,
            schedule: schedule(keys, &settings.tokens),
            algorithms: keys.algorithms.clone(),
        };
        let now = clock.now();
        stored.import_legacy_files(&keys.dir, &rows, now).await?;
        stored.retire_unkept(now).await?;
        stored.ensure_signing_keys(now).await?;
        let loaded = stored.load(now, None).await?;
        let set = Arc::new(KeySet::new(loaded, now, stored.schedule.jwks_max_age())?);
        Ok(Self { stored, clock, set })
    }

    /// The keys this instance signs with and publishes; updated in place by [`Keyring::reload`].
    pub fn key_set(&self) -> Arc<KeySet> {
        self.set.clone()
    }

    pub fn schedule(&self) -> Schedule {
        self.stored.schedule
    }

    /// The algorithms keys are kept for, RS256 first.
    pub fn algorithms(&self) -> &[Alg] {
        &self.stored.algorithms
    }

    /// Reloads the published keys from the database: keys created, activated or removed since
    /// (by any instance or by `dingo keys`) take effect. Keys already loaded are not parsed again.
    pub async fn reload(&self) -> Result<(), KeyringError> {
        let now = self.clock.now();
        let keys = self.stored.load(now, Some(&self.set)).await?;
        self.set.replace(keys, now)?;
        Ok(())
    }

    /// One upkeep round: a next key for each algorithm whose signing key is due for rotation, a
    /// signing key for any kept algorithm left without one, then a reload.
    pub async fn upkeep(&self) -> Result<(), KeyringError> {
        let now = self.clock.now();
        let stored = &self.stored;
        let rows = stored.db.signing_keys().await?;
        for &alg in &stored.algorithms {
            match (
                signing_row(&rows, alg.as_str(), now),
                next_row(&rows, alg.as_str(), now),
            ) {
                (None, _) => {
                    tracing::warn!(%alg, "no key signs: generating one that signs at once");
                    stored.ensure_signing_key(alg, &rows, now).await?;
                }
                (Some(signing), None) if stored.schedule.successor_due(&times_of(signing), now) => {
                    if let Rotation::Created { kid, activates_at } =
                        stored.publish_next(SigningKey::generate(alg)?, signing, now).await?
                    {
                        tracing::info!(%alg, kid, activates_at, "rotation: next key published");
                    }
                }
                _ => {}
            }
        }
        self.reload().await
    }

    /// Creates a new key for `alg`: as the next key, signing `publish_ahead` from now, or, with
    /// `immediately`, signing at once (the current key retires, a waiting next key is withdrawn).
    pub async fn rotate(&self, alg: Alg, immediately: bool) -> Result<Rotation, KeyringError> {
        let stored = &self.stored;
        stored.check_kept(alg)?;
        let now = self.clock.now();
        let rows = stored.db.signing_keys().await?;
        if !immediately && let Some(next) = next_row(&rows, alg.as_str(), now) {
            return Ok(Rotation::AlreadyNext {
                kid: next.kid.clone(),
                activates_at: next.activates_at,
            });
        }
        let key = SigningKey::generate(alg)?;
        if immediately {
            return stored.activate_new(key, &rows, now).await;
        }
        let signing = signing_row(&rows, alg.as_str(), now)
            .ok_or_else(|| KeyringError::Refused(format!("no {alg} key signs now: rotate with --now")))?;
        stored.publish_next(key, signing, now).await
    }

    /// Stores a key from a PEM file (PKCS#8): signing at once, or with `next` as the next key of
    /// its algorithm. `alg`, when given, must be the key's.
    pub async fn import_pem(&self, text: &str, alg: Option<Alg>, next: bool) -> Result<Rotation, KeyringError> {
        let stored = &self.stored;
        let key = SigningKey::from_pem(text, alg).map_err(KeyringError::Refused)?;
        let alg = key.alg();
        stored.check_kept(alg)?;
        if stored.db.find_signing_key(key.kid()).await?.is_some() {
            return Err(KeyringError::Refused(format!("key {} is already stored", key.kid())));
        }
        let now = self.clock.now();
        let rows = stored.db.signing_keys().await?;
        if !next {
            return stored.activate_new(key, &rows, now).await;
        }
        if let Some(waiting) = next_row(&rows, alg.as_str(), now) {
            return Err(KeyringError::Refused(format!(
                "{alg} already has a next key ({}); import without --next to make this one sign now",
                waiting.kid
            )));
        }
        let signing = signing_row(&rows, alg.as_str(), now)
            .ok_or_else(|| KeyringError::Refused(format!("no {alg} key signs now: import without --next")))?;
        stored.publish_next(key, signing, now).await
    }

    /// The private key `kid` as PKCS#8 PEM.
    pub async fn export_pem(&self, kid: &str) -> Result<String, KeyringError> {
        let row = self
            .stored
            .db
            .find_signing_key(kid)
            .await?
            .ok_or_else(|| KeyringError::UnknownKey(kid.to_owned()))?;
        Ok(self.stored.unseal(&row)?.to_pem()?)
    }
}

impl Stored {
    fn check_kept(&self, alg: Alg) -> Result<(), KeyringError> {
        if self.algorithms.contains(&alg) {
            Ok(())
        } else {
            Err(KeyringError::Refused(format!(
                "{alg} is not in keys.algorithms ({})",
                self.algorithms
                    .iter()
                    .map(|a| a.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    }

    /// The published keys at `now`, parsed (reusing those `loaded` already holds).
    async fn load(&self, now: i64, loaded: Option<&KeySet>) -> Result<Vec<ScheduledKey>, KeyringError> {
        let rows = self.db.published_signing_keys(now).await?;
        let mut keys = Vec::with_capacity(rows.len());
        for row in &rows {
            if row.alg.parse::<Alg>().is_err() {
                tracing::warn!(
                    kid = row.kid,
                    alg = row.alg,
                    "ignoring a stored key of an unknown algorithm"
                );
                continue;
            }
            let key = match loaded.and_then(|set| set.find(&row.kid)) {
                Some(key) => key,
                None => Arc::new(self.unseal(row)?),
            };
            keys.push(ScheduledKey {
                key,
                times: times_of(row),
            });
        }
        Ok(keys)
    }

    /// Decrypts and parses a stored key, checking it is the key its row says.
    fn unseal(&self, row: &StoredSigningKey) -> Result<SigningKey, KeyringError> {
        let corrupt = |reason: String| KeyringError::Corrupt {
            kid: row.kid.clone(),
            reason,
        };
        let alg: Alg = row.alg.parse().map_err(corrupt)?;
        let der = self
            .kek
            .open(&row.sealed_private_key, &aad(&row.kid, &row.alg))
            .map_err(|e| corrupt(e.to_string()))?;
        let key = SigningKey::from_pkcs8(alg, &der).map_err(corrupt)?;
        if key.kid() != row.kid {
            return Err(corrupt("the private key does not match its kid".into()));
        }
        Ok(key)
    }

    /// The row for `key`, its private part sealed.
    fn seal(&self, key: &SigningKey, successor_of: String, times: KeyTimes) -> Result<StoredSigningKey, KeyringError> {
        let alg = key.alg().as_str();
        let sealed = self.kek.seal(&key.to_pkcs8()?, &aad(key.kid(), alg))?;
        Ok(StoredSigningKey {
            kid: key.kid().to_owned(),
            alg: alg.to_owned(),
            sealed_private_key: sealed,
            public_jwk: key.public_jwk().to_string(),
            successor_of: Some(successor_of),
            created_at: times.created_at,
            activates_at: times.activates_at,
            retires_at: times.retires_at,
            removed_at: times.removed_at,
        })
    }

    /// Stores `key` as the successor of `signing`, signing `publish_ahead` from `now`.
    async fn publish_next(
        &self,
        key: SigningKey,
        signing: &StoredSigningKey,
        now: i64,
    ) -> Result<Rotation, KeyringError> {
        let activates_at = self.schedule.next_activation(now);
        let row = self.seal(&key, signing.kid.clone(), unretired(now, activates_at))?;
        if self.db.add_next_signing_key(&row, self.schedule.retire_after).await? {
            return Ok(Rotation::Created {
                kid: row.kid,
                activates_at,
            });
        }
        // Another instance was first: report its key.
        let rows = self.db.signing_keys().await?;
        let next = next_row(&rows, &row.alg, now)
            .ok_or_else(|| KeyringError::Refused(format!("{} already has a successor", signing.kid)))?;
        Ok(Rotation::AlreadyNext {
            kid: next.kid.clone(),
            activates_at: next.activates_at,
        })
    }

    /// Stores `key` signing from `now`, taking over `slot` (the key that signed before); false
    /// when another key took it over at the same moment. `replace` also withdraws the waiting
    /// next keys (an operator's "sign with this key now").
    async fn try_activate(
        &self,
        key: &SigningKey,
        slot: String,
        now: i64,
        replace: bool,
    ) -> Result<bool, KeyringError> {
        let row = self.seal(key, slot, unretired(now, now))?;
        let retire_after = self.schedule.retire_after;
        Ok(if replace {
            self.db.replace_signing_key(&row, now, retire_after).await?
        } else {
            self.db.take_over_signing_key(&row, now, retire_after).await?
        })
    }

    /// Signs with `key` from `now`: the signing key retires, waiting next keys are withdrawn.
    async fn activate_new(
        &self,
        key: SigningKey,
        rows: &[StoredSigningKey],
        now: i64,
    ) -> Result<Rotation, KeyringError> {
        let alg = key.alg();
        if self
            .try_activate(&key, takeover_slot(rows, alg.as_str(), now), now, true)
            .await?
        {
            tracing::info!(%alg, kid = key.kid(), "new signing key, signing now");
            return Ok(Rotation::Created {
                kid: key.kid().to_owned(),
                activates_at: now,
            });
        }
        Err(KeyringError::Refused(format!(
            "another {alg} key was stored at the same moment; list the keys and try again"
        )))
    }

    /// Keys of algorithms not in `keys.algorithms` stop signing (and leave the JWKS once the
    /// tokens they signed have expired).
    async fn retire_unkept(&self, now: i64) -> Result<(), KeyringError> {
        for alg in Alg::ALL.into_iter().filter(|a| !self.algorithms.contains(a)) {
            let retired = self
                .db
                .retire_signing_keys(alg.as_str(), now, self.schedule.retire_after)
                .await?;
            if retired > 0 {
                tracing::info!(%alg, retired, "keys of an algorithm no longer kept stop signing");
            }
        }
        Ok(())
    }

    /// A signing key for every kept algorithm that has none. Losing a race to another instance
    /// starting at the same moment is fine: its key is used.
    async fn ensure_signing_keys(&self, now: i64) -> Result<(), KeyringError> {
        let rows = self.db.signing_keys().await?;
        for &alg in &self.algorithms {
            if signing_row(&rows, alg.as_str(), now).is_none() {
                self.ensure_signing_key(alg, &rows, now).await?;
            }
        }
        Ok(())
    }

    /// Generates a key for `alg`, which has no signing key, signing at once. Losing a race to
    /// another instance doing the same (whose clock may be a little ahead) is fine: its key is
    /// used. Only a next key published ahead that holds the slot is withdrawn (else nothing would
    /// sign until it activates).
    async fn ensure_signing_key(&self, alg: Alg, rows: &[StoredSigningKey], now: i64) -> Result<(), KeyringError> {
        let slot = takeover_slot(rows, alg.as_str(), now);
        // Published ahead (unlike a key made to sign at once, by an instance whose clock is ahead).
        let waiting = next_row(rows, alg.as_str(), now)
            .is_some_and(|n| n.successor_of.as_ref() == Some(&slot) && n.activates_at > n.created_at);
        let key = SigningKey::generate(alg)?;
        if self.try_activate(&key, slot, now, waiting).await? {
            tracing::info!(%alg, kid = key.kid(), "generated a signing key");
        }
        Ok(())
    }

    /// Imports the `*.pem` keys of earlier versions (which kept keys only in `dir`) when the
    /// database holds no RS256 key yet; each keeps its kid, the last by file name signs and the
    /// others retire (published until the tokens they may have signed have expired).
    async fn import_legacy_files(
        &self,
        dir: &std::path::Path,
        rows: &[StoredSigningKey],
        now: i64,
    ) -> Result<(), KeyringError> {
        let legacy = files::legacy_keys(dir)?;
        if rows.iter().any(|r| r.alg == Alg::RS256.as_str()) {
            for (path, key) in &legacy {
                if !rows.iter().any(|r| r.kid == key.kid()) {
                    tracing::warn!(
                        path = %path.display(),
                        "ignoring a PEM key unknown to the database: use `dingo keys import` to add it"
                    );
                }
            }
            return Ok(());
        }
        // Each file takes over from the one before it, so instances importing at the same
        // moment agree on every slot and only one of them stores each key.
        let mut previous: std::collections::HashMap<Alg, String> = std::collections::HashMap::new();
        for (path, key) in legacy {
            let alg = key.alg();
            if !self.algorithms.contains(&alg) {
                tracing::warn!(path = %path.display(), %alg, "ignoring a PEM key of an algorithm not kept");
                continue;
            }
            let slot = previous.remove(&alg).unwrap_or_else(|| format!("first:{alg}"));
            if self.try_activate(&key, slot, now, false).await? {
                tracing::info!(
                    path = %path.display(),
                    kid = key.kid(),
                    "imported a key file into the database (it may now be deleted)"
                );
            }
            previous.insert(alg, key.kid().to_owned());
        }
        Ok(())
    }
}

/// Times of a key created at `now` that signs from `activates_at` until superseded.
fn unretired(now: i64, activates_at: i64) -> KeyTimes {
    KeyTimes {
        created_at: now,
        activates_at,
        retires_at: None,
        removed_at: None,
    }
}

#[cfg(test)]
mod tests;
