use std::sync::Arc;

use super::*;
use crate::clock::{Clock, TestClock};

const DAY: i64 = 86_400;
/// The retire window with the default token lifetimes (an hour).
const WINDOW: i64 = 3600;

struct World {
    dir: tempfile::TempDir,
    db: Db,
    clock: Arc<TestClock>,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("dingo.db").display());
    let db = Db::connect(&url, 4).await.unwrap();
    db.migrate().await.unwrap();
    World {
        dir,
        db,
        clock: TestClock::new(),
    }
}

impl World {
    fn settings(&self, env: &[(&str, &str)]) -> Settings {
        let text = format!(
            "[server]\nissuer = \"https://sso.example.com\"\n[dingtalk]\nclient_id = \"k\"\nclient_secret = \"s\"\n\
             corp_id = \"c\"\n[keys]\ndir = {:?}\n",
            self.keys_dir()
        );
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        crate::config::load_str(&text, env).unwrap_or_else(|e| panic!("{e}"))
    }

    fn keys_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("keys")
    }

    async fn open(&self) -> Keyring {
        self.open_with(&[]).await
    }

    async fn open_with(&self, env: &[(&str, &str)]) -> Keyring {
        Keyring::open(&self.settings(env), self.db.clone(), self.clock.clone())
            .await
            .unwrap()
    }

    async fn states(&self) -> Vec<(String, String, KeyState)> {
        list(&self.db, self.clock.now())
            .await
            .unwrap()
            .into_iter()
            .map(|k| (k.alg, k.kid, k.state))
            .collect()
    }
}

fn jwks_kids(set: &KeySet) -> Vec<String> {
    set.keys().iter().map(|k| k.kid().to_owned()).collect()
}

fn created(rotation: Rotation) -> String {
    match rotation {
        Rotation::Created { kid, .. } => kid,
        other => panic!("expected a new key, got {other:?}"),
    }
}

#[tokio::test]
async fn the_first_start_generates_one_signing_key_per_algorithm_and_the_next_start_keeps_them() {
    let w = world().await;
    let first = w.open().await;
    let set = first.key_set();
    assert_eq!(set.algorithms(), [Alg::RS256, Alg::ES256, Alg::EdDSA]);
    let kids = jwks_kids(&set);
    assert_eq!(kids.len(), 3);
    assert!(w.keys_dir().join(KEK_FILE).exists());
    let again = w.open().await;
    assert_eq!(jwks_kids(&again.key_set()), kids);
    assert_eq!(again.key_set().signing_key().kid(), set.signing_key().kid());
}

#[tokio::test]
async fn instances_starting_together_on_an_empty_database_agree_on_one_kek_and_one_key_set() {
    let w = world().await;
    let (a, b) = tokio::join!(w.open(), w.open());
    let rows = w.db.signing_keys().await.unwrap();
    assert_eq!(jwks_kids(&a.key_set()), jwks_kids(&b.key_set()), "{rows:#?}");
    assert_eq!(w.states().await.len(), 3, "one key per algorithm");
    assert_eq!(std::fs::read_dir(w.keys_dir()).unwrap().count(), 1, "one kek file");
}

#[tokio::test]
async fn private_keys_are_sealed_at_rest() {
    let w = world().await;
    let keyring = w.open().await;
    for key in keyring.key_set().keys().iter() {
        let der = key.to_pkcs8().unwrap();
        let row = w.db.find_signing_key(key.kid()).await.unwrap().unwrap();
        let raw = &row.sealed_private_key;
        assert!(raw.starts_with("v1."), "{raw}");
        let pem = key.to_pem().unwrap();
        assert!(!raw.contains(&crate::crypto::b64url(&der)));
        assert!(!raw.contains(pem.lines().nth(1).unwrap()), "no PEM text");
        let bytes = crate::crypto::b64url_decode(&raw[3..]).unwrap();
        let leaks = der.windows(16).any(|piece| bytes.windows(16).any(|w| w == piece));
        assert!(!leaks, "no 16 bytes of the {} DER in clear", key.alg());
        assert_eq!(keyring.export_pem(key.kid()).await.unwrap(), pem);
    }
}

#[tokio::test]
async fn a_rotated_key_is_published_first_then_signs_and_its_predecessor_leaves_after_the_window() {
    let w = world().await;
    let keyring = w.open().await;
    let set = keyring.key_set();
    let old = set.signing_key().kid().to_owned();
    let new = created(keyring.rotate(Alg::RS256, false).await.unwrap());
    keyring.reload().await.unwrap();
    assert_eq!(set.signing_key().kid(), old, "a next key does not sign yet");
    assert!(set.find(&new).is_some(), "but it is published");

    w.clock.advance(DAY - 10);
    keyring.reload().await.unwrap();
    assert_eq!(set.signing_key().kid(), old);
    w.clock.advance(10);
    keyring.reload().await.unwrap();
    assert_eq!(set.signing_key().kid(), new);
    assert!(set.find(&old).is_some(), "the old key still verifies what it signed");
    let states = w.states().await;
    assert!(
        states.contains(&("RS256".into(), old.clone(), KeyState::Retiring)),
        "{states:?}"
    );

    w.clock.advance(WINDOW);
    keyring.reload().await.unwrap();
    assert!(set.find(&old).is_none());
    assert!(w.states().await.contains(&("RS256".into(), old, KeyState::Retired)));
}

#[tokio::test]
async fn rotating_again_while_a_next_key_waits_reports_that_key() {
    let w = world().await;
    let keyring = w.open().await;
    let next = created(keyring.rotate(Alg::ES256, false).await.unwrap());
    match keyring.rotate(Alg::ES256, false).await.unwrap() {
        Rotation::AlreadyNext { kid, .. } => assert_eq!(kid, next),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn rotating_now_withdraws_a_waiting_next_key_and_retires_the_signing_one() {
    let w = world().await;
    let keyring = w.open().await;
    let set = keyring.key_set();
    let old = set.signing_key_for(Alg::EdDSA).unwrap().kid().to_owned();
    let waiting = created(keyring.rotate(Alg::EdDSA, false).await.unwrap());
    let now = created(keyring.rotate(Alg::EdDSA, true).await.unwrap());
    keyring.reload().await.unwrap();
    assert_eq!(set.signing_key_for(Alg::EdDSA).unwrap().kid(), now);
    assert!(set.find(&old).is_some());
    let states = w.states().await;
    for (kid, state) in [
        (&old, KeyState::Retiring),
        (&waiting, KeyState::Retiring),
        (&now, KeyState::Signing),
    ] {
        assert!(
            states.contains(&("EdDSA".into(), kid.clone(), state)),
            "{kid}: {states:?}"
        );
    }
    // The withdrawn key never signs, and leaves with the old one.
    w.clock.advance(DAY);
    keyring.upkeep().await.unwrap();
    assert_eq!(set.signing_key_for(Alg::EdDSA).unwrap().kid(), now);
    assert!(set.find(&waiting).is_none() && set.find(&old).is_none());
}

#[tokio::test]
async fn upkeep_publishes_a_successor_publish_ahead_before_the_rotation_period_ends() {
    let w = world().await;
    let env = [("DINGO_KEYS__ROTATE_EVERY", "864000")]; // ten days
    let keyring = w.open_with(&env).await;
    let set = keyring.key_set();
    let old = set.signing_key().kid().to_owned();
    w.clock.advance(9 * DAY - 60);
    keyring.upkeep().await.unwrap();
    assert_eq!(set.keys().len(), 3, "not due yet");
    w.clock.advance(60);
    keyring.upkeep().await.unwrap();
    assert_eq!(set.keys().len(), 6, "a next key for each algorithm");
    assert_eq!(set.signing_key().kid(), old);
    keyring.upkeep().await.unwrap();
    assert_eq!(set.keys().len(), 6, "one next key per algorithm");
    w.clock.advance(DAY);
    keyring.upkeep().await.unwrap();
    assert_ne!(
        set.signing_key().kid(),
        old,
        "the successor signs when the old key is ten days old"
    );
    assert!(set.find(&old).is_some());
}

#[tokio::test]
async fn instances_rotating_at_the_same_moment_create_one_next_key() {
    let w = world().await;
    let env = [("DINGO_KEYS__ROTATE_EVERY", "864000")];
    let (a, b) = (w.open_with(&env).await, w.open_with(&env).await);
    assert_eq!(jwks_kids(&a.key_set()), jwks_kids(&b.key_set()), "one key set for both");
    w.clock.advance(9 * DAY);
    let (ra, rb) = tokio::join!(a.upkeep(), b.upkeep());
    ra.unwrap();
    rb.unwrap();
    let next = w
        .states()
        .await
        .into_iter()
        .filter(|(_, _, s)| *s == KeyState::Next)
        .count();
    assert_eq!(next, 3);
    b.reload().await.unwrap();
    assert_eq!(jwks_kids(&a.key_set()), jwks_kids(&b.key_set()));
}

#[tokio::test]
async fn another_instance_sees_a_rotation_at_its_next_reload() {
    let w = world().await;
    let (a, b) = (w.open().await, w.open().await);
    let new = created(a.rotate(Alg::RS256, true).await.unwrap());
    assert_ne!(b.key_set().signing_key().kid(), new);
    b.reload().await.unwrap();
    assert_eq!(b.key_set().signing_key().kid(), new);
}

#[tokio::test]
async fn pem_keys_of_earlier_versions_are_imported_once_with_their_kids() {
    let w = world().await;
    std::fs::create_dir_all(w.keys_dir()).unwrap();
    let older = SigningKey::generate(Alg::RS256).unwrap();
    let newer = SigningKey::generate(Alg::RS256).unwrap();
    std::fs::write(w.keys_dir().join("signing-a.pem"), older.to_pem().unwrap()).unwrap();
    std::fs::write(w.keys_dir().join("signing-b.pem"), newer.to_pem().unwrap()).unwrap();
    let keyring = w.open().await;
    let set = keyring.key_set();
    assert_eq!(set.signing_key().kid(), newer.kid(), "the last file signs, as before");
    assert!(set.find(older.kid()).is_some(), "the other stays published for a while");
    let states = w.states().await;
    assert!(states.contains(&("RS256".into(), older.kid().into(), KeyState::Retiring)));
    // Restarting imports nothing again.
    let again = w.open().await;
    assert_eq!(again.key_set().signing_key().kid(), newer.kid());
    assert_eq!(w.states().await.len(), states.len());
}

#[tokio::test]
async fn keys_sealed_under_a_kek_that_is_gone_or_different_are_refused_clearly() {
    let w = world().await;
    w.open().await;
    std::fs::remove_file(w.keys_dir().join(KEK_FILE)).unwrap();
    let err = Keyring::open(&w.settings(&[]), w.db.clone(), w.clock.clone())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("keys.kek is not set") && err.contains("kek"), "{err}");
    let other = Kek::generate_base64();
    let err = Keyring::open(
        &w.settings(&[("DINGO_KEYS__KEK", &other)]),
        w.db.clone(),
        w.clock.clone(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("key-encryption key"), "{err}");
}

#[tokio::test]
async fn a_kek_from_the_settings_is_used_instead_of_a_file() {
    let w = world().await;
    let kek = Kek::generate_base64();
    let keyring = w.open_with(&[("DINGO_KEYS__KEK", &kek)]).await;
    assert!(!w.keys_dir().join(KEK_FILE).exists());
    let kid = keyring.key_set().signing_key().kid().to_owned();
    let again = w.open_with(&[("DINGO_KEYS__KEK", &kek)]).await;
    assert_eq!(again.key_set().signing_key().kid(), kid);
}

#[tokio::test]
async fn an_imported_pem_key_signs_now_or_waits_as_the_next_key() {
    let w = world().await;
    let keyring = w.open().await;
    let set = keyring.key_set();
    let ec = SigningKey::generate(Alg::ES256).unwrap();
    let next = keyring.import_pem(&ec.to_pem().unwrap(), None, true).await.unwrap();
    assert!(
        matches!(&next, Rotation::Created { kid, activates_at } if kid == ec.kid() && *activates_at == w.clock.now() + DAY)
    );
    let err = keyring
        .import_pem(&ec.to_pem().unwrap(), None, false)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already stored"), "{err}");
    let rsa = SigningKey::generate(Alg::RS256).unwrap();
    let refused = keyring
        .import_pem(&rsa.to_pem().unwrap(), Some(Alg::EdDSA), false)
        .await;
    assert!(refused.is_err(), "the named algorithm must be the key's");
    keyring
        .import_pem(&rsa.to_pem().unwrap(), Some(Alg::RS256), false)
        .await
        .unwrap();
    keyring.reload().await.unwrap();
    assert_eq!(set.signing_key().kid(), rsa.kid());
    assert!(set.find(ec.kid()).is_some());
}

#[tokio::test]
async fn an_algorithm_no_longer_kept_stops_signing_but_stays_published_for_the_window() {
    let w = world().await;
    let all = w.open().await;
    let es = all.key_set().signing_key_for(Alg::ES256).unwrap().kid().to_owned();
    let rs_only = w.open_with(&[("DINGO_KEYS__ALGORITHMS", "RS256")]).await;
    let set = rs_only.key_set();
    assert_eq!(set.algorithms(), [Alg::RS256]);
    assert!(set.signing_key_for(Alg::ES256).is_none());
    assert!(set.find(&es).is_some());
    assert!(rs_only.rotate(Alg::ES256, true).await.is_err());
    w.clock.advance(WINDOW);
    rs_only.upkeep().await.unwrap();
    assert!(set.find(&es).is_none());
    assert_eq!(set.keys().len(), 1);
}

#[test]
fn the_retire_window_covers_the_longest_token_lifetime() {
    let mut tokens = TokenSettings::default();
    let keys = KeySettings::default();
    assert_eq!(schedule(&keys, &tokens).retire_after, 3600);
    tokens.id_token_ttl = 7200;
    assert_eq!(schedule(&keys, &tokens).retire_after, 7200);
    tokens.id_token_ttl = 60;
    tokens.access_token_ttl = 60;
    assert_eq!(
        schedule(&keys, &tokens).retire_after,
        120,
        "logout tokens live two minutes"
    );
}
