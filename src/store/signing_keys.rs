//! Signing keys, shared by every instance. Private keys are stored only sealed under the
//! key-encryption key; the times place each key in its life (next, signing, retiring, retired).
//! Every change is one transaction, and a unique `successor_of` lets at most one key take over
//! from another, so instances that rotate at the same moment cannot both win.

use sqlx::Row;

use super::{Db, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSigningKey {
    /// RFC 7638 thumbprint.
    pub kid: String,
    /// `RS256`, `ES256` or `EdDSA`.
    pub alg: String,
    /// The PKCS#8 private key, sealed (AES-256-GCM) under the key-encryption key.
    pub sealed_private_key: String,
    /// The public JWK, JSON.
    pub public_jwk: String,
    /// The key this one took over from (or a marker for the first key of its algorithm); unique.
    pub successor_of: Option<String>,
    pub created_at: i64,
    pub activates_at: i64,
    /// Stops signing; `None` while nothing supersedes it.
    pub retires_at: Option<i64>,
    /// Leaves the JWKS.
    pub removed_at: Option<i64>,
}

const COLUMNS: &str =
    "kid, alg, private_key, public_jwk, successor_of, created_at, activates_at, retires_at, removed_at";

const INSERT: &str = "INSERT INTO signing_keys
         (kid, alg, private_key, public_jwk, successor_of, created_at, activates_at, retires_at, removed_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT DO NOTHING";

fn insert(key: &StoredSigningKey) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments<'_>> {
    sqlx::query(INSERT)
        .bind(&key.kid)
        .bind(&key.alg)
        .bind(&key.sealed_private_key)
        .bind(&key.public_jwk)
        .bind(&key.successor_of)
        .bind(key.created_at)
        .bind(key.activates_at)
        .bind(key.retires_at)
        .bind(key.removed_at)
}

impl Db {
    /// Every key ever stored, by algorithm and activation.
    pub async fn signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM signing_keys ORDER BY alg, activates_at, created_at"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(read_key).collect()
    }

    /// The keys still published at `now` (next, signing, retiring).
    pub async fn published_signing_keys(&self, now: i64) -> Result<Vec<StoredSigningKey>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM signing_keys WHERE removed_at IS NULL OR removed_at > $1
             ORDER BY alg, activates_at, created_at"
        ))
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(read_key).collect()
    }

    pub async fn find_signing_key(&self, kid: &str) -> Result<Option<StoredSigningKey>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM signing_keys WHERE kid = $1"))
            .bind(kid)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(read_key).transpose()
    }

    /// Stores `key` exactly as given (an imported key); false when its kid or its
    /// `successor_of` is already taken.
    pub async fn insert_signing_key(&self, key: &StoredSigningKey) -> Result<bool, StoreError> {
        Ok(insert(key).execute(&self.pool).await?.rows_affected() == 1)
    }

    /// Publishes `key` as the next key of its algorithm, taking over at `key.activates_at` from
    /// the key named by `key.successor_of`, which then retires and leaves the JWKS
    /// `retire_after` seconds later. False, and nothing changes, when that key already has a
    /// successor (another instance was first).
    pub async fn add_next_signing_key(&self, key: &StoredSigningKey, retire_after: i64) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        if insert(key).execute(&mut *tx).await?.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        if let Some(predecessor) = &key.successor_of {
            sqlx::query(
                "UPDATE signing_keys SET retires_at = $2, removed_at = $3
                 WHERE kid = $1 AND (retires_at IS NULL OR retires_at > $2)",
            )
            .bind(predecessor)
            .bind(key.activates_at)
            .bind(key.activates_at + retire_after)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Makes `key` the signing key of its algorithm at `now` (its `activates_at`), taking over
    /// from the key named by its `successor_of`: keys signing until now retire and stay published
    /// `retire_after` seconds more. False, and nothing changes, when that slot or the kid is
    /// already taken (another instance was first).
    pub async fn take_over_signing_key(
        &self,
        key: &StoredSigningKey,
        now: i64,
        retire_after: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        if insert(key).execute(&mut *tx).await?.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        retire_signing(&mut tx, key, now, retire_after).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Like [`Db::take_over_signing_key`], after withdrawing the next keys of the algorithm, those
    /// published ahead of their activation (an operator's "sign with this key now"): they stop
    /// waiting, and stay published `retire_after` seconds in case a clock ahead of this one
    /// already let them sign.
    pub async fn replace_signing_key(
        &self,
        key: &StoredSigningKey,
        now: i64,
        retire_after: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE signing_keys SET retires_at = $2, removed_at = $3, successor_of = NULL
             WHERE alg = $1 AND activates_at > $2 AND activates_at > created_at
               AND (removed_at IS NULL OR removed_at > $2)",
        )
        .bind(&key.alg)
        .bind(now)
        .bind(now + retire_after)
        .execute(&mut *tx)
        .await?;
        if insert(key).execute(&mut *tx).await?.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        retire_signing(&mut tx, key, now, retire_after).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Stops every key of `alg` from signing at `now` (an algorithm no longer kept): next keys
    /// are withdrawn, signing keys retire and stay published `retire_after` seconds more.
    pub async fn retire_signing_keys(&self, alg: &str, now: i64, retire_after: i64) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let withdrawn = sqlx::query(
            "UPDATE signing_keys SET retires_at = $2, removed_at = $3
             WHERE alg = $1 AND activates_at > $2 AND (removed_at IS NULL OR removed_at > $2)",
        )
        .bind(alg)
        .bind(now)
        .bind(now + retire_after)
        .execute(&mut *tx)
        .await?;
        let retired = sqlx::query(
            "UPDATE signing_keys SET retires_at = $2, removed_at = $3
             WHERE alg = $1 AND activates_at <= $2 AND (retires_at IS NULL OR retires_at > $2)",
        )
        .bind(alg)
        .bind(now)
        .bind(now + retire_after)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(withdrawn.rows_affected() + retired.rows_affected())
    }
}

/// Retires the keys of `key`'s algorithm that were signing at `now`, other than `key`.
async fn retire_signing(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    key: &StoredSigningKey,
    now: i64,
    retire_after: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE signing_keys SET retires_at = $3, removed_at = $4
         WHERE alg = $1 AND kid <> $2 AND activates_at <= $3 AND (retires_at IS NULL OR retires_at > $3)",
    )
    .bind(&key.alg)
    .bind(&key.kid)
    .bind(now)
    .bind(now + retire_after)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn read_key(r: &sqlx::any::AnyRow) -> Result<StoredSigningKey, StoreError> {
    Ok(StoredSigningKey {
        kid: r.try_get("kid")?,
        alg: r.try_get("alg")?,
        sealed_private_key: r.try_get("private_key")?,
        public_jwk: r.try_get("public_jwk")?,
        successor_of: r.try_get("successor_of")?,
        created_at: r.try_get("created_at")?,
        activates_at: r.try_get("activates_at")?,
        retires_at: r.try_get("retires_at")?,
        removed_at: r.try_get("removed_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{Alg, Kek, SigningKey};

    async fn fresh_db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("dingo.db").display());
        let db = Db::connect(&url, 4).await.unwrap();
        db.migrate().await.unwrap();
        (dir, db)
    }

    fn row(kid: &str, successor_of: Option<&str>, activates_at: i64) -> StoredSigningKey {
        StoredSigningKey {
            kid: kid.into(),
            alg: "RS256".into(),
            sealed_private_key: format!("v1.sealed-{kid}"),
            public_jwk: "{}".into(),
            successor_of: successor_of.map(str::to_owned),
            created_at: 100,
            activates_at,
            retires_at: None,
            removed_at: None,
        }
    }

    async fn times(db: &Db, kid: &str) -> (Option<i64>, Option<i64>, Option<String>) {
        let k = db.find_signing_key(kid).await.unwrap().unwrap();
        (k.retires_at, k.removed_at, k.successor_of)
    }

    #[tokio::test]
    async fn the_private_key_column_holds_only_the_sealed_key() {
        let (_dir, db) = fresh_db().await;
        let kek = Kek::from_base64(&Kek::generate_base64()).unwrap();
        let key = SigningKey::generate(Alg::ES256).unwrap();
        let der = key.to_pkcs8().unwrap();
        let mut stored = row(key.kid(), Some("first:ES256"), 100);
        stored.alg = "ES256".into();
        stored.sealed_private_key = kek.seal(&der, key.kid().as_bytes()).unwrap();
        assert!(db.insert_signing_key(&stored).await.unwrap());
        let raw: String = sqlx::query_scalar("SELECT private_key FROM signing_keys WHERE kid = $1")
            .bind(key.kid())
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert!(!raw.contains(&crate::crypto::b64url(&der)));
        assert!(!raw.contains(key.to_pem().unwrap().lines().nth(1).unwrap()));
        let bytes = crate::crypto::b64url_decode(raw.trim_start_matches("v1.")).unwrap();
        assert!(!der.windows(16).any(|piece| bytes.windows(16).any(|w| w == piece)));
        assert_eq!(kek.open(&raw, key.kid().as_bytes()).unwrap(), der);
    }

    #[tokio::test]
    async fn a_key_gets_at_most_one_successor_even_when_two_are_added_at_once() {
        let (_dir, db) = fresh_db().await;
        assert!(
            db.insert_signing_key(&row("k1", Some("first:RS256"), 100))
                .await
                .unwrap()
        );
        let (a, b) = (row("k2a", Some("k1"), 1000), row("k2b", Some("k1"), 1000));
        let (ra, rb) = tokio::join!(db.add_next_signing_key(&a, 3600), db.add_next_signing_key(&b, 3600));
        let won = [ra.unwrap(), rb.unwrap()];
        assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
        assert_eq!(
            times(&db, "k1").await,
            (Some(1000), Some(4600), Some("first:RS256".into()))
        );
        assert_eq!(db.signing_keys().await.unwrap().len(), 2);
        assert!(
            !db.insert_signing_key(&row("k1", None, 5)).await.unwrap(),
            "kids are unique"
        );
    }

    #[tokio::test]
    async fn replacing_the_signing_key_withdraws_the_next_key_and_retires_the_signing_one() {
        let (_dir, db) = fresh_db().await;
        db.insert_signing_key(&row("k1", Some("first:RS256"), 100))
            .await
            .unwrap();
        db.add_next_signing_key(&row("k2", Some("k1"), 1000), 3600)
            .await
            .unwrap();
        // k1 replaced at 500 while k2 waits: k2 is withdrawn, k1 retires now.
        let replaced = db.replace_signing_key(&row("k3", Some("k1"), 500), 500, 3600).await;
        assert!(replaced.unwrap());
        assert_eq!(
            times(&db, "k1").await,
            (Some(500), Some(4100), Some("first:RS256".into()))
        );
        assert_eq!(times(&db, "k2").await, (Some(500), Some(4100), None));
        assert_eq!(times(&db, "k3").await, (None, None, Some("k1".into())));
        let published: Vec<_> = db
            .published_signing_keys(500)
            .await
            .unwrap()
            .into_iter()
            .map(|k| k.kid)
            .collect();
        assert_eq!(
            published,
            ["k1", "k3", "k2"],
            "k2 never signs, but a clock ahead may have"
        );
        assert_eq!(db.published_signing_keys(4100).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_lost_takeover_changes_nothing() {
        let (_dir, db) = fresh_db().await;
        db.insert_signing_key(&row("k1", Some("first:RS256"), 100))
            .await
            .unwrap();
        db.add_next_signing_key(&row("k2", Some("k1"), 1000), 3600)
            .await
            .unwrap();
        // Another instance already took over from the slot "first:RS256".
        let lost = db
            .replace_signing_key(&row("k3", Some("first:RS256"), 500), 500, 3600)
            .await;
        assert!(!lost.unwrap());
        let lost = db
            .take_over_signing_key(&row("k4", Some("first:RS256"), 500), 500, 3600)
            .await;
        assert!(!lost.unwrap());
        assert_eq!(
            times(&db, "k2").await,
            (None, None, Some("k1".into())),
            "k2 still waits"
        );
        assert_eq!(times(&db, "k1").await.0, Some(1000));
        assert!(db.find_signing_key("k3").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_key_made_to_sign_by_a_clock_ahead_is_never_withdrawn() {
        let (_dir, db) = fresh_db().await;
        // Another instance, its clock a second ahead, stored k1 signing from 101.
        let mut k1 = row("k1", Some("first:RS256"), 101);
        k1.created_at = 101;
        assert!(db.take_over_signing_key(&k1, 101, 3600).await.unwrap());
        let lost = db
            .take_over_signing_key(&row("k2", Some("first:RS256"), 100), 100, 3600)
            .await;
        assert!(!lost.unwrap());
        let lost = db
            .replace_signing_key(&row("k3", Some("first:RS256"), 100), 100, 3600)
            .await;
        assert!(!lost.unwrap());
        assert_eq!(times(&db, "k1").await, (None, None, Some("first:RS256".into())));
        // Keys taking over in turn: each retires the one before.
        assert!(
            db.take_over_signing_key(&row("k4", Some("k1"), 200), 200, 3600)
                .await
                .unwrap()
        );
        assert_eq!(times(&db, "k1").await.0, Some(200));
    }

    #[tokio::test]
    async fn retiring_an_algorithm_stops_its_keys_and_leaves_the_others() {
        let (_dir, db) = fresh_db().await;
        db.insert_signing_key(&row("k1", Some("first:RS256"), 100))
            .await
            .unwrap();
        let mut ec = row("e1", Some("first:ES256"), 100);
        ec.alg = "ES256".into();
        db.insert_signing_key(&ec).await.unwrap();
        assert_eq!(db.retire_signing_keys("ES256", 200, 3600).await.unwrap(), 1);
        assert_eq!(times(&db, "e1").await.0, Some(200));
        assert_eq!(times(&db, "k1").await.0, None);
        assert_eq!(
            db.retire_signing_keys("ES256", 300, 3600).await.unwrap(),
            0,
            "already retired"
        );
    }
}
