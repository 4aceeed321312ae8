//! The keys a running instance signs with and publishes. Built from the scheduled keys (which
//! the database holds), replaced whole when they are reloaded; readers never wait for a reload.

use std::sync::{Arc, RwLock};

use serde_json::json;

use super::keys::{Alg, KeyError, SigningKey};
use super::schedule::{KeyState, KeyTimes};

/// A parsed key with its place in the schedule.
#[derive(Debug, Clone)]
pub struct ScheduledKey {
    pub key: Arc<SigningKey>,
    pub times: KeyTimes,
}

/// What is signed with and published at one moment.
#[derive(Debug)]
struct Snapshot {
    /// The signing key of each algorithm that has one; RS256 always does.
    signing: Vec<Arc<SigningKey>>,
    /// Next, signing and retiring keys, in JWKS order.
    published: Arc<Vec<Arc<SigningKey>>>,
    jwks_json: Arc<Vec<u8>>,
}

/// The signing keys: which one signs for each algorithm, and the JWKS of every published key.
#[derive(Debug)]
pub struct KeySet {
    current: RwLock<Arc<Snapshot>>,
    max_age: u64,
}

impl KeySet {
    /// The keys as they stand at `now`; `max_age` is the JWKS's `Cache-Control` max-age.
    /// Fails when no RS256 key signs at `now`.
    pub fn new(keys: Vec<ScheduledKey>, now: i64, max_age: u64) -> Result<Self, KeyError> {
        Ok(Self {
            current: RwLock::new(Arc::new(Snapshot::build(keys, now)?)),
            max_age,
        })
    }

    /// One key that signs and is the only one published (tests, tools).
    pub fn single(key: SigningKey) -> Result<Self, KeyError> {
        let times = KeyTimes {
            created_at: 0,
            activates_at: 0,
            retires_at: None,
            removed_at: None,
        };
        let keys = vec![ScheduledKey {
            key: Arc::new(key),
            times,
        }];
        Self::new(keys, 0, 300)
    }

    /// Replaces every key at once. On error (no RS256 key would sign) nothing changes.
    pub fn replace(&self, keys: Vec<ScheduledKey>, now: i64) -> Result<(), KeyError> {
        let snapshot = Arc::new(Snapshot::build(keys, now)?);
        *self.current.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = snapshot;
        Ok(())
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The RS256 key that signs new tokens (there always is one).
    pub fn signing_key(&self) -> Arc<SigningKey> {
        let snapshot = self.snapshot();
        // `Snapshot::build` refuses a set without a signing RS256 key, which sorts first.
        snapshot.signing[0].clone()
    }

    /// The key that signs new tokens with `alg`, when that algorithm is kept.
    pub fn signing_key_for(&self, alg: Alg) -> Option<Arc<SigningKey>> {
        self.snapshot().signing.iter().find(|k| k.alg() == alg).cloned()
    }

    /// The algorithms that have a signing key, RS256 first.
    pub fn algorithms(&self) -> Vec<Alg> {
        self.snapshot().signing.iter().map(|k| k.alg()).collect()
    }

    /// Every published key (next, signing, retiring): what tokens are verified against.
    pub fn keys(&self) -> Arc<Vec<Arc<SigningKey>>> {
        self.snapshot().published.clone()
    }

    /// The published key with this `kid`.
    pub fn find(&self, kid: &str) -> Option<Arc<SigningKey>> {
        self.snapshot().published.iter().find(|k| k.kid() == kid).cloned()
    }

    /// The JWKS document (RFC 7517) of the published keys, serialized once per reload.
    pub fn jwks_json(&self) -> Arc<Vec<u8>> {
        self.snapshot().jwks_json.clone()
    }

    /// Seconds relying parties may cache the JWKS.
    pub fn jwks_max_age(&self) -> u64 {
        self.max_age
    }
}

impl Snapshot {
    fn build(mut keys: Vec<ScheduledKey>, now: i64) -> Result<Self, KeyError> {
        // Per algorithm, the newest activated unretired key signs; others published and
        // activated count as retiring.
        keys.retain(|k| k.times.state_at(now).is_published());
        keys.sort_by_key(|k| {
            (
                k.key.alg(),
                std::cmp::Reverse((k.times.activates_at, k.times.created_at)),
            )
        });
        let mut signing: Vec<Arc<SigningKey>> = Vec::new();
        let mut ranked: Vec<(Alg, u8, usize)> = Vec::with_capacity(keys.len());
        for (i, k) in keys.iter().enumerate() {
            let state = k.times.state_at(now);
            let rank = match state {
                KeyState::Signing if !signing.iter().any(|s| s.alg() == k.key.alg()) => {
                    signing.push(k.key.clone());
                    0
                }
                KeyState::Next => 1,
                _ => 2,
            };
            ranked.push((k.key.alg(), rank, i));
        }
        if signing.first().is_none_or(|k| k.alg() != Alg::RS256) {
            return Err(KeyError::NoSigningKey(Alg::RS256));
        }
        // JWKS order: by algorithm (RS256 first), then signing, next, retiring (newest first).
        ranked.sort();
        let published: Vec<Arc<SigningKey>> = ranked.iter().map(|(_, _, i)| keys[*i].key.clone()).collect();
        let jwks: Vec<_> = published.iter().map(|k| k.public_jwk().clone()).collect();
        let jwks_json = serde_json::to_vec(&json!({ "keys": jwks })).unwrap_or_default();
        Ok(Self {
            signing,
            published: Arc::new(published),
            jwks_json: Arc::new(jwks_json),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AHEAD: i64 = 86_400;

    fn key(alg: Alg, activates_at: i64, retires_at: Option<i64>, removed_at: Option<i64>) -> ScheduledKey {
        ScheduledKey {
            key: Arc::new(SigningKey::generate(alg).unwrap()),
            times: KeyTimes {
                created_at: activates_at - AHEAD,
                activates_at,
                retires_at,
                removed_at,
            },
        }
    }

    fn kids(set: &KeySet) -> Vec<String> {
        let jwks: serde_json::Value = serde_json::from_slice(&set.jwks_json()).unwrap();
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    }

    /// One RS256 key signing since 0 and superseded at 1000 by a key published at 1000 - AHEAD;
    /// the old one leaves the JWKS an hour after it stops signing.
    fn rotation() -> (ScheduledKey, ScheduledKey) {
        let old = key(Alg::RS256, 0, Some(1000), Some(4600));
        let new = key(Alg::RS256, 1000, None, None);
        (old, new)
    }

    #[test]
    fn the_next_key_is_published_before_it_signs_and_signs_once_activated() {
        let (old, new) = rotation();
        let set = KeySet::new(vec![old.clone(), new.clone()], 999, 60).unwrap();
        assert_eq!(set.signing_key().kid(), old.key.kid());
        assert_eq!(kids(&set), [old.key.kid(), new.key.kid()], "signing first, then next");
        set.replace(vec![old.clone(), new.clone()], 1000).unwrap();
        assert_eq!(set.signing_key().kid(), new.key.kid());
        assert_eq!(
            kids(&set),
            [new.key.kid(), old.key.kid()],
            "the old key is still published"
        );
        assert!(set.find(old.key.kid()).is_some());
    }

    #[test]
    fn a_retiring_key_leaves_the_jwks_at_its_removal_time() {
        let (old, new) = rotation();
        let set = KeySet::new(vec![old.clone(), new.clone()], 4599, 60).unwrap();
        assert_eq!(set.keys().len(), 2);
        set.replace(vec![old.clone(), new.clone()], 4600).unwrap();
        assert_eq!(kids(&set), [new.key.kid()]);
        assert!(set.find(old.key.kid()).is_none());
    }

    #[test]
    fn each_algorithm_has_its_own_signing_key_and_rs256_comes_first() {
        let keys = vec![
            key(Alg::EdDSA, 0, None, None),
            key(Alg::ES256, 0, None, None),
            key(Alg::RS256, 0, None, None),
        ];
        let set = KeySet::new(keys.clone(), 10, 60).unwrap();
        assert_eq!(set.algorithms(), [Alg::RS256, Alg::ES256, Alg::EdDSA]);
        for k in &keys {
            assert_eq!(set.signing_key_for(k.key.alg()).unwrap().kid(), k.key.kid());
        }
        assert_eq!(set.signing_key().alg(), Alg::RS256);
        let jwks: serde_json::Value = serde_json::from_slice(&set.jwks_json()).unwrap();
        let ktys: Vec<_> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kty"].clone())
            .collect();
        assert_eq!(ktys, ["RSA", "EC", "OKP"]);
    }

    #[test]
    fn an_algorithm_without_a_key_has_no_signing_key() {
        let set = KeySet::single(SigningKey::generate(Alg::RS256).unwrap()).unwrap();
        assert!(set.signing_key_for(Alg::ES256).is_none());
        assert_eq!(set.jwks_max_age(), 300);
    }

    #[test]
    fn a_set_where_no_rs256_key_signs_is_refused_and_the_old_set_is_kept() {
        let next_only = key(Alg::RS256, 1000, None, None);
        assert!(matches!(
            KeySet::new(vec![next_only.clone()], 0, 60),
            Err(KeyError::NoSigningKey(Alg::RS256))
        ));
        let set = KeySet::new(vec![key(Alg::RS256, 0, None, None)], 0, 60).unwrap();
        let before = set.signing_key().kid().to_owned();
        assert!(set.replace(vec![key(Alg::ES256, 0, None, None)], 10).is_err());
        assert_eq!(set.signing_key().kid(), before);
    }

    #[test]
    fn of_two_unretired_activated_keys_the_newer_signs_and_the_older_stays_published() {
        let older = key(Alg::ES256, 0, None, None);
        let newer = key(Alg::ES256, 500, None, None);
        let rsa = key(Alg::RS256, 0, None, None);
        let set = KeySet::new(vec![older.clone(), newer.clone(), rsa], 600, 60).unwrap();
        assert_eq!(set.signing_key_for(Alg::ES256).unwrap().kid(), newer.key.kid());
        assert!(set.find(older.key.kid()).is_some());
    }
}
