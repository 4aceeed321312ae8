use super::*;
use crate::identity::Identity;

async fn fresh_db() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("dingo.db").display());
    let db = Db::connect(&url, 4).await.unwrap();
    db.migrate().await.unwrap();
    (dir, db)
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
    let (dir, db) = fresh_db().await;
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
    let (_dir, db) = fresh_db().await;
    db.migrate().await.unwrap();
}

#[tokio::test]
async fn concurrent_redemptions_of_one_code_have_exactly_one_winner() {
    let (_dir, db) = fresh_db().await;
    db.upsert_user(&person("zhangsan"), 100).await.unwrap();
    db.insert_authorization_code(&code("c1", "zhangsan")).await.unwrap();
    let (a, b) = tokio::join!(
        db.redeem_authorization_code("c1", 110),
        db.redeem_authorization_code("c1", 110)
    );
    let outcomes = [a.unwrap(), b.unwrap()];
    let winners = outcomes
        .iter()
        .filter(|o| matches!(o, CodeRedemption::Redeemed(_)))
        .count();
    assert_eq!(winners, 1, "{outcomes:?}");
    assert!(outcomes.contains(&CodeRedemption::Replayed));
    assert_eq!(
        db.redeem_authorization_code("nope", 110).await.unwrap(),
        CodeRedemption::Unknown
    );
}

#[tokio::test]
async fn replaying_a_code_revokes_the_tokens_issued_for_it() {
    let (_dir, db) = fresh_db().await;
    db.upsert_user(&person("zhangsan"), 100).await.unwrap();
    db.insert_authorization_code(&code("c1", "zhangsan")).await.unwrap();
    assert!(matches!(
        db.redeem_authorization_code("c1", 110).await.unwrap(),
        CodeRedemption::Redeemed(_)
    ));
    let token = NewAccessToken {
        token_hash: "t1".into(),
        client_id: "app".into(),
        userid: "zhangsan".into(),
        scope: "openid".into(),
        code_hash: Some("c1".into()),
        family_id: None,
        sid: None,
        created_at: 110,
        expires_at: 4000,
    };
    db.insert_access_token(&token).await.unwrap();
    assert!(db.find_access_token("t1", 120).await.unwrap().is_some());
    assert_eq!(
        db.redeem_authorization_code("c1", 130).await.unwrap(),
        CodeRedemption::Replayed
    );
    assert!(db.find_access_token("t1", 130).await.unwrap().is_none());
}

#[tokio::test]
async fn an_access_token_is_not_found_once_expired() {
    let (_dir, db) = fresh_db().await;
    db.upsert_user(&person("zhangsan"), 100).await.unwrap();
    let token = NewAccessToken {
        token_hash: "t1".into(),
        client_id: "app".into(),
        userid: "zhangsan".into(),
        scope: "openid profile".into(),
        code_hash: None,
        family_id: None,
        sid: None,
        created_at: 100,
        expires_at: 200,
    };
    db.insert_access_token(&token).await.unwrap();
    assert_eq!(
        db.find_access_token("t1", 199).await.unwrap().unwrap().scope,
        "openid profile"
    );
    assert!(db.find_access_token("t1", 200).await.unwrap().is_none());
}

#[tokio::test]
async fn a_pending_login_can_be_taken_only_once() {
    let (_dir, db) = fresh_db().await;
    let login = PendingLogin {
        state_hash: "s1".into(),
        browser_hash: "b1".into(),
        request: "{}".into(),
        expires_at: 700,
    };
    db.insert_pending_login(&login).await.unwrap();
    assert!(
        db.insert_pending_login(&login).await.is_err(),
        "state hashes are unique"
    );
    assert_eq!(db.take_pending_login("s1").await.unwrap(), Some(login));
    assert_eq!(db.take_pending_login("s1").await.unwrap(), None);
}

#[tokio::test]
async fn updated_at_moves_only_when_the_profile_changes() {
    let (_dir, db) = fresh_db().await;
    let mut someone = person("lisi");
    assert_eq!(db.upsert_user(&someone, 100).await.unwrap().updated_at, 100);
    let again = db.upsert_user(&someone, 200).await.unwrap();
    assert_eq!((again.updated_at, again.last_login_at), (100, 200));
    someone.title = Some("会计".into());
    assert_eq!(db.upsert_user(&someone, 300).await.unwrap().updated_at, 300);
    let stored = db.find_user("lisi").await.unwrap().unwrap();
    assert_eq!(stored.identity.title.as_deref(), Some("会计"));
    assert!(db.find_user("nobody").await.unwrap().is_none());
}
