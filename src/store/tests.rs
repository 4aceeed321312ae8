use super::*;
use crate::crypto::TokenHash;
use crate::identity::Identity;

/// A value a test stores as a hash, to look its row up by.
fn h(hash: &str) -> TokenHash {
    TokenHash::stored(hash)
}

/// One backend's database for a test, reached through two pools: two dingo instances.
struct TestDb {
    backend: Backend,
    db: Db,
    other_instance: Db,
    _dir: tempfile::TempDir,
}

/// A fresh, migrated database on every backend at hand: SQLite always; PostgreSQL too when
/// `DATABASE_URL` names a server (each call gets a database of its own there).
async fn each_backend() -> Vec<TestDb> {
    let (dir, urls) = fresh_databases();
    let mut dbs = Vec::new();
    for url in urls {
        let db = Db::connect(&url, 4).await.unwrap();
        db.migrate().await.unwrap();
        let other_instance = Db::connect(&url, 4).await.unwrap();
        dbs.push(TestDb {
            backend: db.backend(),
            db,
            other_instance,
            _dir: tempfile::tempdir().unwrap(),
        });
    }
    // The SQLite file lives in `dir`: keep it with the first database.
    dbs[0]._dir = dir;
    dbs
}

/// The URLs of a fresh database on every backend at hand; the SQLite file lives in the directory.
fn fresh_databases() -> (tempfile::TempDir, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let mut urls = vec![format!("sqlite://{}", dir.path().join("dingo.db").display())];
    if let Some(server) = std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()) {
        let mut url = url::Url::parse(&server).unwrap();
        url.set_path(&format!("dingo_store_{}", uuid::Uuid::new_v4().simple()));
        urls.push(url.into());
    }
    (dir, urls)
}

fn person(userid: &str) -> Identity {
    Identity {
        userid: userid.into(),
        unionid: format!("union-{userid}"),
        corp_id: "dingcorp".into(),
        name: "张三".into(),
        avatar: None,
        mobile: None,
        state_code: None,
        org_email: None,
        email: None,
        job_number: None,
        title: None,
        dept_ids: vec![1],
        departments_partial: false,
        departments: vec![],
        roles: vec![],
        active: true,
        admin: false,
        boss: false,
    }
}

fn code(hash: &str, userid: &str) -> NewAuthorizationCode {
    NewAuthorizationCode {
        code_hash: hash.into(),
        client_id: "app".into(),
        redirect_uri: "https://app.example.com/cb".into(),
        userid: userid.into(),
        scope: "openid".into(),
        nonce: Some("n".into()),
        code_challenge: None,
        sid: None,
        route: "dingtalk_web".into(),
        auth_time: 100,
        expires_at: 160,
    }
}

#[tokio::test]
async fn the_database_file_is_created_in_wal_mode() {
    let TestDb { db, _dir: dir, .. } = each_backend().await.remove(0);
    assert!(dir.path().join("dingo.db").exists());
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(mode.to_lowercase(), "wal");
    assert!(db.ping().await);
}

#[tokio::test]
async fn migrating_twice_is_harmless() {
    for t in each_backend().await {
        t.other_instance.migrate().await.unwrap();
        assert!(t.db.ping().await, "{:?}", t.backend);
    }
}

#[test]
fn the_postgresql_migrations_mirror_the_sqlite_ones_version_for_version() {
    let versions = |migrator: &Migrator| {
        migrator
            .iter()
            .map(|m| (m.version, m.description.to_string()))
            .collect::<Vec<_>>()
    };
    assert!(SQLITE_MIGRATIONS.iter().count() >= 6);
    assert_eq!(versions(&SQLITE_MIGRATIONS), versions(&POSTGRES_MIGRATIONS));
}

#[tokio::test]
async fn upgrading_to_version_7_keeps_people_tokens_and_queued_logouts() {
    let (_dir, urls) = fresh_databases();
    for url in urls {
        let db = Db::connect(&url, 2).await.unwrap();
        let full = migrator(db.backend);
        let up_to_6 = Migrator {
            migrations: std::borrow::Cow::Owned(full.iter().filter(|m| m.version <= 6).cloned().collect()),
            ..Migrator::DEFAULT
        };
        up_to_6.run(&db.pool).await.unwrap();
        for statement in [
            "INSERT INTO users (userid, unionid, profile, created_at, updated_at, last_login_at, disabled_at)
             VALUES ('zhangsan', 'union-zhangsan', '{}', 1, 2, 3, 4)",
            "INSERT INTO access_tokens (token_hash, client_id, userid, scope, created_at, expires_at, family_id, sid)
             VALUES ('at', 'app', 'zhangsan', 'openid', 1, 9999999999, 'fam', 'sid-1')",
            "INSERT INTO sessions (id_hash, sid, userid, route, auth_time, created_at, expires_at)
             VALUES ('h', 'sid-1', 'zhangsan', 'web', 1, 1, 9999999999)",
            "INSERT INTO logout_deliveries (id, client_id, uri, logout_token, attempts, next_attempt_at, created_at)
             VALUES ('d1', 'app', 'https://app.example.com/bc', 'eyJ.signed.token', 2, 50, 40)",
        ] {
            sqlx::query(statement).execute(&db.pool).await.unwrap();
        }
        db.migrate().await.unwrap();
        let backend = db.backend;
        let disabled: Option<i64> = sqlx::query_scalar("SELECT disabled_at FROM users WHERE userid = 'zhangsan'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(disabled, Some(4), "{backend:?}");
        let token = db
            .find_access_token(&h("at"), 100)
            .await
            .unwrap()
            .expect("the access token");
        assert_eq!(
            (token.userid.as_deref(), token.family_id.as_deref()),
            (Some("zhangsan"), Some("fam"))
        );
        assert!(db.find_session_by_sid("sid-1").await.unwrap().is_some(), "{backend:?}");
        let (kind, payload, attempts, run_at): (String, String, i64, i64) =
            sqlx::query_as("SELECT kind, payload, attempts, run_at FROM jobs WHERE id = 'd1'")
                .fetch_one(&db.pool)
                .await
                .unwrap();
        assert_eq!(
            (kind.as_str(), attempts, run_at),
            ("backchannel_logout", 2, 50),
            "{backend:?}"
        );
        let payload: serde_json::Value = serde_json::from_str(&payload).unwrap();
        assert_eq!(
            payload,
            serde_json::json!({"client_id": "app", "signed": {"uri": "https://app.example.com/bc", "logout_token": "eyJ.signed.token"}}),
            "{backend:?}"
        );
        // The foreign keys still hold after SQLite's table rebuild.
        let orphan = sqlx::query(
            "INSERT INTO sessions (id_hash, sid, userid, route, auth_time, created_at, expires_at)
             VALUES ('h2', 'sid-2', 'nobody', 'web', 1, 1, 2)",
        )
        .execute(&db.pool)
        .await;
        assert!(orphan.is_err(), "{backend:?}: a session of nobody is refused");
    }
}

#[test]
fn the_backend_is_chosen_from_the_url() {
    assert_eq!(Backend::of_url("sqlite://dingo.db"), Some(Backend::Sqlite));
    assert_eq!(Backend::of_url("sqlite::memory:"), Some(Backend::Sqlite));
    assert_eq!(Backend::of_url("postgres://db/dingo"), Some(Backend::Postgres));
    assert_eq!(Backend::of_url("postgresql://db/dingo"), Some(Backend::Postgres));
    assert_eq!(Backend::of_url("mysql://db/dingo"), None);
    assert_eq!(Backend::of_url("dingo.db"), None);
}

#[tokio::test]
async fn two_instances_redeeming_one_code_at_the_same_instant_have_exactly_one_winner() {
    for t in each_backend().await {
        let db = &t.db;
        db.upsert_user(&person("zhangsan"), 100).await.unwrap();
        for round in 0..20 {
            let hash = format!("c{round}");
            db.insert_authorization_code(&code(&hash, "zhangsan")).await.unwrap();
            let key = h(&hash);
            let (a, b) = tokio::join!(
                db.redeem_authorization_code(&key, 110),
                t.other_instance.redeem_authorization_code(&key, 110)
            );
            let outcomes = [a.unwrap(), b.unwrap()];
            let winners = outcomes
                .iter()
                .filter(|o| matches!(o, CodeRedemption::Redeemed(_)))
                .count();
            assert_eq!(winners, 1, "{:?}: {outcomes:?}", t.backend);
            assert!(outcomes.contains(&CodeRedemption::Replayed), "{:?}", t.backend);
        }
        assert_eq!(
            db.redeem_authorization_code(&h("nope"), 110).await.unwrap(),
            CodeRedemption::Unknown
        );
    }
}

#[tokio::test]
async fn replaying_a_code_revokes_the_tokens_issued_for_it() {
    for t in each_backend().await {
        let db = &t.db;
        db.upsert_user(&person("zhangsan"), 100).await.unwrap();
        db.insert_authorization_code(&code("c1", "zhangsan")).await.unwrap();
        assert!(matches!(
            db.redeem_authorization_code(&h("c1"), 110).await.unwrap(),
            CodeRedemption::Redeemed(_)
        ));
        db.insert_access_token(&access_token("t1", Some("c1"), 4000))
            .await
            .unwrap();
        assert!(db.find_access_token(&h("t1"), 120).await.unwrap().is_some());
        assert_eq!(
            t.other_instance.redeem_authorization_code(&h("c1"), 130).await.unwrap(),
            CodeRedemption::Replayed
        );
        assert!(
            db.find_access_token(&h("t1"), 130).await.unwrap().is_none(),
            "{:?}",
            t.backend
        );
    }
}

fn access_token(hash: &str, code_hash: Option<&str>, expires_at: i64) -> NewAccessToken {
    NewAccessToken {
        token_hash: hash.into(),
        client_id: "app".into(),
        userid: Some("zhangsan".into()),
        scope: "openid profile".into(),
        code_hash: code_hash.map(str::to_owned),
        family_id: None,
        sid: None,
        audience: None,
        created_at: 100,
        expires_at,
    }
}

fn refresh_token(hash: &str, family_expires_at: i64) -> RefreshToken {
    RefreshToken {
        token_hash: hash.into(),
        family_id: "fam-1".into(),
        client_id: "app".into(),
        userid: "zhangsan".into(),
        scope: "openid offline_access".into(),
        sid: None,
        route: "dingtalk_web".into(),
        auth_time: 100,
        successor_key: "k".into(),
        created_at: 100,
        expires_at: 1000,
        family_expires_at,
    }
}

#[tokio::test]
async fn two_instances_rotating_one_refresh_token_at_once_have_exactly_one_fresh_rotation() {
    for t in each_backend().await {
        let db = &t.db;
        db.upsert_user(&person("zhangsan"), 100).await.unwrap();
        for round in 0..20 {
            let hash = format!("r{round}");
            db.insert_refresh_token(&refresh_token(&hash, 5000)).await.unwrap();
            let key = h(&hash);
            let (a, b) = tokio::join!(
                db.rotate_refresh_token(&key, 200),
                t.other_instance.rotate_refresh_token(&key, 200)
            );
            let rotations = [a.unwrap(), b.unwrap()];
            let fresh = rotations.iter().filter(|r| matches!(r, Rotation::Fresh(_))).count();
            assert_eq!(fresh, 1, "{:?}: {rotations:?}", t.backend);
            assert!(
                rotations
                    .iter()
                    .any(|r| matches!(r, Rotation::Reused { used_at: 200, .. })),
                "{:?}: {rotations:?}",
                t.backend
            );
        }
        assert_eq!(
            db.rotate_refresh_token(&h("nope"), 200).await.unwrap(),
            Rotation::Unknown
        );
        assert!(
            db.find_refresh_token(&h("r0")).await.unwrap().is_none(),
            "a used token is not live"
        );
    }
}

#[tokio::test]
async fn an_access_token_is_not_found_once_expired() {
    for t in each_backend().await {
        let db = &t.db;
        db.upsert_user(&person("zhangsan"), 100).await.unwrap();
        db.insert_access_token(&access_token("t1", None, 200)).await.unwrap();
        assert_eq!(
            db.find_access_token(&h("t1"), 199).await.unwrap().unwrap().scope,
            "openid profile"
        );
        assert!(
            db.find_access_token(&h("t1"), 200).await.unwrap().is_none(),
            "{:?}",
            t.backend
        );
    }
}

#[tokio::test]
async fn purging_removes_only_dead_rows_in_bounded_batches_from_several_instances_at_once() {
    for t in each_backend().await {
        let db = &t.db;
        db.upsert_user(&person("zhangsan"), 100).await.unwrap();
        for i in 0..30 {
            db.insert_access_token(&access_token(&format!("dead{i}"), None, 200))
                .await
                .unwrap();
        }
        db.insert_access_token(&access_token("live", None, 10_000))
            .await
            .unwrap();
        db.insert_refresh_token(&refresh_token("dead-refresh", 300))
            .await
            .unwrap();
        db.insert_refresh_token(&refresh_token("live-refresh", 10_000))
            .await
            .unwrap();
        let login = |hash: &str, expires_at| PendingLogin {
            state_hash: hash.into(),
            browser_hash: "b".into(),
            request: "{}".into(),
            expires_at,
        };
        db.insert_pending_login(&login("dead-login", 300)).await.unwrap();
        db.insert_pending_login(&login("live-login", 10_000)).await.unwrap();
        assert!(db.record_client_assertion("app", "jti-dead", 300).await.unwrap());

        let first = db.purge_expired(1000, 10).await.unwrap();
        assert_eq!(
            first, 13,
            "{:?}: at most 10 rows of each kind go in one batch",
            t.backend
        );
        let (a, b) = tokio::join!(db.purge_expired(1000, 10), t.other_instance.purge_expired(1000, 10));
        assert!(a.unwrap() + b.unwrap() <= 20, "{:?}", t.backend);
        while db.purge_expired(1000, 10).await.unwrap() > 0 {}

        assert!(db.find_access_token(&h("dead29"), 100).await.unwrap().is_none());
        assert!(
            db.find_access_token(&h("live"), 1000).await.unwrap().is_some(),
            "{:?}",
            t.backend
        );
        assert!(db.find_refresh_token(&h("dead-refresh")).await.unwrap().is_none());
        assert!(db.find_refresh_token(&h("live-refresh")).await.unwrap().is_some());
        assert!(db.find_pending_login(&h("dead-login")).await.unwrap().is_none());
        assert!(db.find_pending_login(&h("live-login")).await.unwrap().is_some());
        assert!(
            db.record_client_assertion("app", "jti-dead", 2000).await.unwrap(),
            "an expired jti is forgotten"
        );
    }
}

#[tokio::test]
async fn a_pending_login_can_be_taken_only_once() {
    for t in each_backend().await {
        let db = &t.db;
        let login = PendingLogin {
            state_hash: "s1".into(),
            browser_hash: "b1".into(),
            request: "{}".into(),
            expires_at: 700,
        };
        db.insert_pending_login(&login).await.unwrap();
        assert!(
            t.other_instance.insert_pending_login(&login).await.is_err(),
            "{:?}: state hashes are unique",
            t.backend
        );
        let key = h("s1");
        let (a, b) = tokio::join!(db.take_pending_login(&key), t.other_instance.take_pending_login(&key));
        let taken = [a.unwrap(), b.unwrap()];
        assert_eq!(taken.iter().flatten().collect::<Vec<_>>(), [&login], "{:?}", t.backend);
    }
}

#[tokio::test]
async fn a_person_hired_again_under_a_new_userid_takes_over_their_unionid() {
    for t in each_backend().await {
        let db = &t.db;
        db.upsert_user(&person("zhangsan"), 100).await.unwrap();
        let mut rehired = person("zhangsan-2");
        rehired.unionid = person("zhangsan").unionid;
        let stored = db.upsert_user(&rehired, 200).await.unwrap();
        assert!(stored.is_some(), "{:?}: the new row is stored", t.backend);
        let holders: Vec<String> = sqlx::query_scalar("SELECT userid FROM users WHERE unionid = $1")
            .bind(&rehired.unionid)
            .fetch_all(&db.pool)
            .await
            .unwrap();
        assert_eq!(holders, ["zhangsan-2"], "{:?}: one row holds a unionid", t.backend);
        // The old row stays (its sessions and audit entries name it), without the unionid.
        assert!(db.find_user("zhangsan").await.unwrap().is_some(), "{:?}", t.backend);
        // Logging in again under either userid works, and the unionid follows the newest.
        db.upsert_user(&rehired, 300).await.unwrap();
        db.upsert_user(&person("zhangsan"), 400).await.unwrap();
        let holder: String = sqlx::query_scalar("SELECT userid FROM users WHERE unionid = $1")
            .bind(&rehired.unionid)
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(holder, "zhangsan", "{:?}", t.backend);
    }
}

#[tokio::test]
async fn uniqueness_holds_for_users_sessions_keys_and_assertions() {
    for t in each_backend().await {
        let db = &t.db;
        db.upsert_user(&person("zhangsan"), 100).await.unwrap();

        let session = Session {
            id_hash: "h1".into(),
            sid: "sid-1".into(),
            userid: "zhangsan".into(),
            route: "dingtalk_web".into(),
            auth_time: 100,
            created_at: 100,
            expires_at: 5000,
        };
        db.insert_session(&session).await.unwrap();
        let same_sid = Session {
            id_hash: "h2".into(),
            ..session.clone()
        };
        assert!(
            t.other_instance.insert_session(&same_sid).await.is_err(),
            "{:?}",
            t.backend
        );

        let (a, b) = tokio::join!(
            db.record_client_assertion("app", "jti-1", 500),
            t.other_instance.record_client_assertion("app", "jti-1", 500)
        );
        assert_eq!(
            [a.unwrap(), b.unwrap()].iter().filter(|fresh| **fresh).count(),
            1,
            "{:?}: a jti is accepted once",
            t.backend
        );
        assert!(db.record_client_assertion("other-app", "jti-1", 500).await.unwrap());
        assert!(db.insert_authorization_code(&code("c1", "zhangsan")).await.is_ok());
        assert!(db.insert_authorization_code(&code("c1", "zhangsan")).await.is_err());
        assert!(
            db.insert_authorization_code(&code("c2", "nobody")).await.is_err(),
            "{:?}: a code names a known person",
            t.backend
        );
    }
}

#[tokio::test]
async fn updated_at_moves_only_when_the_profile_changes() {
    for t in each_backend().await {
        let db = &t.db;
        let mut someone = person("lisi");
        let upsert = |who: Identity, now: i64| async move { db.upsert_user(&who, now).await.unwrap().unwrap() };
        assert_eq!(upsert(someone.clone(), 100).await.updated_at, 100);
        let again = upsert(someone.clone(), 200).await;
        assert_eq!((again.updated_at, again.last_login_at), (100, 200));
        someone.title = Some("会计".into());
        assert_eq!(upsert(someone.clone(), 300).await.updated_at, 300);
        let stored = t.other_instance.find_user("lisi").await.unwrap().unwrap();
        assert_eq!(stored.identity.title.as_deref(), Some("会计"));
        assert!(db.find_user("nobody").await.unwrap().is_none());
    }
}

#[tokio::test]
async fn an_unreachable_database_is_reported_as_unavailable() {
    let error = Db::connect_with(
        "postgres://dingo@127.0.0.1:1/dingo",
        &DbOptions {
            max_connections: 1,
            acquire_timeout: std::time::Duration::from_millis(300),
        },
    )
    .await
    .unwrap_err();
    assert!(error.is_unavailable(), "{error}");
    assert!(!StoreError::Corrupt("x".into()).is_unavailable());
}

#[tokio::test]
async fn a_disabled_person_is_not_recorded_again_and_nothing_of_their_login_is_written() {
    for t in each_backend().await {
        let db = &t.db;
        let mut someone = person("wangwu");
        db.upsert_user(&someone, 100).await.unwrap().unwrap();
        let mut tx = db.transaction().await.unwrap();
        assert!(tx.set_user_disabled("wangwu", Some(150)).await.unwrap());
        tx.commit().await.unwrap();
        someone.title = Some("出纳".into());
        assert_eq!(db.upsert_user(&someone, 200).await.unwrap(), None, "{:?}", t.backend);
        let session = login_session("s-disabled", "wangwu");
        let mut code = code("c-disabled", "wangwu");
        code.sid = Some(session.sid.clone());
        let audit = login_audit("wangwu");
        let login = CompletedLogin {
            identity: &someone,
            session: &session,
            code: Some(&code),
            audit: &audit,
            now: 300,
        };
        assert_eq!(t.other_instance.record_login(&login).await.unwrap(), None);
        let stored = db.find_user("wangwu").await.unwrap().unwrap();
        assert_eq!((stored.identity.title, stored.last_login_at), (None, 100));
        assert!(db.find_session(&h("s-disabled"), 300).await.unwrap().is_none());
        assert_eq!(
            db.redeem_authorization_code(&h("c-disabled"), 300).await.unwrap(),
            CodeRedemption::Unknown
        );
        let filter = AuditFilter {
            userid: Some("wangwu".into()),
            limit: 10,
            ..Default::default()
        };
        assert!(db.audit_events(&filter).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_recorded_login_is_whole_and_its_code_redeems_with_the_person() {
    for t in each_backend().await {
        let db = &t.db;
        let someone = person("zhaoliu");
        let session = login_session("s-1", "zhaoliu");
        let mut code = code("c-1", "zhaoliu");
        code.sid = Some(session.sid.clone());
        let audit = login_audit("zhaoliu");
        let login = CompletedLogin {
            identity: &someone,
            session: &session,
            code: Some(&code),
            audit: &audit,
            now: 100,
        };
        let user = db.record_login(&login).await.unwrap().unwrap();
        assert_eq!((user.identity.userid.as_str(), user.last_login_at), ("zhaoliu", 100));
        assert_eq!(
            t.other_instance.find_session(&h("s-1"), 120).await.unwrap(),
            Some(session.clone())
        );
        let filter = AuditFilter {
            userid: Some("zhaoliu".into()),
            limit: 10,
            ..Default::default()
        };
        assert_eq!(db.audit_events(&filter).await.unwrap(), vec![audit.clone()]);
        let CodeRedemption::Redeemed(redeemed) = t
            .other_instance
            .redeem_authorization_code(&h("c-1"), 110)
            .await
            .unwrap()
        else {
            panic!("{:?}: the code was not redeemed", t.backend);
        };
        assert_eq!((redeemed.code, redeemed.user), (code, Some(user)));
        // The code's client takes part in the session: it is told when the session ends.
        let mut tx = db.transaction().await.unwrap();
        assert_eq!(tx.end_session(&session.sid).await.unwrap(), vec!["app".to_owned()]);
        tx.commit().await.unwrap();
    }
}

#[tokio::test]
async fn one_checkout_redeems_a_code_and_stores_the_tokens_of_its_grant() {
    for t in each_backend().await {
        let db = &t.db;
        db.upsert_user(&person("zhangsan"), 100).await.unwrap();
        db.insert_authorization_code(&code("c-grant", "zhangsan"))
            .await
            .unwrap();
        let mut store = db.checkout().await.unwrap();
        let CodeRedemption::Redeemed(redeemed) = store.redeem_authorization_code(&h("c-grant"), 110).await.unwrap()
        else {
            panic!("{:?}: the code is not redeemed", t.backend);
        };
        assert_eq!(redeemed.user.unwrap().identity.userid, "zhangsan");
        store
            .record_tokens(
                &access_token("t-grant", Some("c-grant"), 4000),
                Some(&refresh_token("r-grant", 5000)),
            )
            .await
            .unwrap();
        store
            .record_tokens(&access_token("t-alone", None, 4000), None)
            .await
            .unwrap();
        drop(store);
        let other = &t.other_instance;
        assert!(other.find_access_token(&h("t-grant"), 120).await.unwrap().is_some());
        assert!(other.find_refresh_token(&h("r-grant")).await.unwrap().is_some());
        assert!(other.find_access_token(&h("t-alone"), 120).await.unwrap().is_some());
        assert_eq!(
            other.redeem_authorization_code(&h("c-grant"), 130).await.unwrap(),
            CodeRedemption::Replayed
        );
        assert!(
            db.find_access_token(&h("t-grant"), 130).await.unwrap().is_none(),
            "{:?}: a replayed code revokes its tokens",
            t.backend
        );
        assert!(db.find_access_token(&h("t-alone"), 130).await.unwrap().is_some());
    }
}

fn login_session(id_hash: &str, userid: &str) -> Session {
    Session {
        id_hash: id_hash.into(),
        sid: format!("sid-{id_hash}"),
        userid: userid.into(),
        route: "dingtalk_web".into(),
        auth_time: 100,
        created_at: 100,
        expires_at: 10_000,
    }
}

fn login_audit(userid: &str) -> AuditEvent {
    AuditEvent {
        id: format!("audit-{userid}"),
        at: 100,
        kind: "login".into(),
        outcome: "success".into(),
        userid: Some(userid.into()),
        client_id: Some("app".into()),
        route: Some("dingtalk_web".into()),
        detail: None,
        actor: None,
    }
}

#[tokio::test]
async fn a_batch_is_all_or_nothing_on_both_backends() {
    for t in each_backend().await {
        let db = &t.db;
        db.upsert_user(&person("zhangsan"), 100).await.unwrap();
        let (first, taken, last) = (
            login_session("b-first", "zhangsan"),
            login_session("b-taken", "zhangsan"),
            login_session("b-last", "zhangsan"),
        );
        db.insert_session(&taken).await.unwrap();
        let mut batch = batch::Batch::new();
        sessions::insert_session(&mut batch, &first);
        sessions::insert_session(&mut batch, &taken);
        sessions::insert_session(&mut batch, &last);
        assert!(
            db.run(batch).await.is_err(),
            "{:?}: a session stored twice is refused",
            t.backend
        );
        let other = &t.other_instance;
        for id in ["b-first", "b-last"] {
            assert_eq!(
                other.find_session(&h(id), 120).await.unwrap(),
                None,
                "{:?}: {id}",
                t.backend
            );
        }
        // The failed batch left no transaction open: the connection writes again at once.
        let mut batch = batch::Batch::new();
        sessions::insert_session(&mut batch, &first);
        sessions::insert_session(&mut batch, &last);
        db.run(batch).await.unwrap();
        for id in ["b-first", "b-last"] {
            assert!(
                other.find_session(&h(id), 120).await.unwrap().is_some(),
                "{:?}: {id}",
                t.backend
            );
        }
    }
}

#[tokio::test]
async fn a_transaction_is_seen_whole_once_committed_and_not_at_all_when_dropped() {
    for t in each_backend().await {
        let db = &t.db;
        db.upsert_user(&person("zhangsan"), 100).await.unwrap();
        let (kept, dropped) = (
            login_session("t-kept", "zhangsan"),
            login_session("t-dropped", "zhangsan"),
        );

        let mut tx = db.transaction().await.unwrap();
        let mut batch = batch::Batch::new();
        sessions::insert_session(&mut batch, &dropped);
        tx.run(batch).await.unwrap();
        drop(tx);
        assert_eq!(
            t.other_instance.find_session(&h("t-dropped"), 120).await.unwrap(),
            None,
            "{:?}",
            t.backend
        );

        let mut tx = db.transaction().await.unwrap();
        let mut batch = batch::Batch::new();
        sessions::insert_session(&mut batch, &kept);
        tx.run(batch).await.unwrap();
        assert_eq!(
            t.other_instance.find_session(&h("t-kept"), 120).await.unwrap(),
            None,
            "{:?}: not before the commit",
            t.backend
        );
        tx.commit().await.unwrap();
        assert!(
            t.other_instance
                .find_session(&h("t-kept"), 120)
                .await
                .unwrap()
                .is_some(),
            "{:?}",
            t.backend
        );
    }
}

#[tokio::test]
async fn two_instances_writing_in_transactions_at_once_both_succeed() {
    for t in each_backend().await {
        t.db.upsert_user(&person("zhangsan"), 100).await.unwrap();
        let write = |db: Db, id: &'static str| async move {
            let mut tx = db.transaction().await?;
            // A read first, then a write: the pattern that fails halfway on SQLite when a
            // transaction takes its write lock late.
            let _ = sessions::count_sessions_of(tx.conn(), "zhangsan").await?;
            let session = login_session(id, "zhangsan");
            let mut batch = batch::Batch::new();
            sessions::insert_session(&mut batch, &session);
            tx.run(batch).await?;
            tx.commit().await
        };
        for round in 0..10 {
            let a = Box::leak(format!("tx-a-{round}").into_boxed_str());
            let b = Box::leak(format!("tx-b-{round}").into_boxed_str());
            let (x, y) = tokio::join!(write(t.db.clone(), a), write(t.other_instance.clone(), b));
            x.unwrap();
            y.unwrap();
        }
        assert_eq!(
            t.db.sessions_of_user("zhangsan").await.unwrap().len(),
            20,
            "{:?}",
            t.backend
        );
    }
}
