use super::*;
use crate::config::Secret;
use crate::identity::Department;
use crate::oidc::ClientKind;

fn user(org_email: Option<&str>, email: Option<&str>, mobile: Option<&str>, state_code: Option<&str>) -> UserRecord {
    let dept = |id: i64, name: &str, lineage: &[i64], path: &str| Department {
        id,
        name: name.into(),
        lineage: lineage.to_vec(),
        path: path.into(),
    };
    UserRecord {
        identity: Identity {
            userid: "zhangsan".into(),
            unionid: "u1".into(),
            corp_id: "dingcorp".into(),
            name: "张三".into(),
            avatar: None,
            mobile: mobile.map(Into::into),
            state_code: state_code.map(Into::into),
            org_email: org_email.map(Into::into),
            email: email.map(Into::into),
            job_number: Some("0042".into()),
            title: None,
            dept_ids: vec![2, 4],
            departments_partial: false,
            departments: vec![
                dept(2, "研发部", &[1, 2], "示例科技/研发部"),
                dept(4, "平台组", &[1, 2, 4], "示例科技/研发部/平台组"),
            ],
            roles: vec![],
            active: true,
            admin: false,
            boss: false,
        },
        updated_at: 1000,
        last_login_at: 1000,
    }
}

fn client(id: &str, claims: Option<&[&str]>) -> Client {
    Client {
        id: id.into(),
        name: String::new(),
        redirect_uris: vec![],
        scopes: vec![],
        kind: ClientKind::Public,
        claims: claims.map(|c| c.iter().map(|s| s.to_string()).collect()),
        ..Default::default()
    }
}

fn claims_of(u: &UserRecord, scopes: &[&str]) -> Map<String, Value> {
    for_scopes(u, scopes, &client("app", None), &IdentitySettings::default())
}

#[test]
fn only_an_organisation_mailbox_is_verified() {
    let org = claims_of(
        &user(Some("zs@example.com"), Some("me@qq.com"), None, None),
        &["openid", "email"],
    );
    assert_eq!(
        (org["email"].clone(), org["email_verified"].clone()),
        (json!("zs@example.com"), json!(true))
    );
    let personal = claims_of(&user(None, Some("me@qq.com"), None, None), &["openid", "email"]);
    assert_eq!(
        (personal["email"].clone(), personal["email_verified"].clone()),
        (json!("me@qq.com"), json!(false))
    );
    let none = claims_of(&user(None, None, Some("13800000001"), None), &["openid", "email"]);
    assert!(!none.contains_key("email"), "the mobile number never becomes an email");
}

#[test]
fn phone_numbers_are_e164() {
    let cn = claims_of(&user(None, None, Some("13800000001"), Some("86")), &["openid", "phone"]);
    assert_eq!(cn["phone_number"], json!("+8613800000001"));
    let us = claims_of(&user(None, None, Some("415-555-0100"), Some("1")), &["openid", "phone"]);
    assert_eq!(us["phone_number"], json!("+14155550100"));
}

#[test]
fn claims_follow_the_scopes() {
    let u = user(Some("zs@example.com"), None, Some("13800000001"), None);
    let minimal = claims_of(&u, &["openid"]);
    assert_eq!(
        minimal.keys().collect::<Vec<_>>(),
        ["sub"],
        "openid alone releases nothing personal"
    );
    assert_eq!(minimal["sub"], json!("zhangsan"));
    let dingtalk = claims_of(&u, &["openid", "dingtalk"]);
    for present in ["userid", "unionid", "corp_id", "dept_ids"] {
        assert!(dingtalk.contains_key(present), "{present}");
    }
    assert_eq!(dingtalk["dept_ids"], json!([2, 4]));
    assert!(!dingtalk.contains_key("name"));
    let profile = claims_of(&u, &["openid", "profile"]);
    assert_eq!(profile["preferred_username"], json!("zs"));
    assert_eq!(profile["updated_at"], json!(1000));
    assert_eq!(profile["name"], json!("张三"));
}

#[test]
fn groups_are_department_names_or_paths() {
    let u = user(None, None, None, None);
    assert_eq!(
        claims_of(&u, &["openid", "groups"])["groups"],
        json!(["研发部", "平台组"])
    );
    let paths = IdentitySettings {
        groups: GroupsFormat::Paths,
        ..Default::default()
    };
    let c = for_scopes(&u, &["openid", "groups"], &client("app", None), &paths);
    assert_eq!(c["groups"], json!(["示例科技/研发部", "示例科技/研发部/平台组"]));
}

#[test]
fn a_client_receives_only_the_claims_it_is_allowed() {
    let u = user(Some("zs@example.com"), None, Some("13800000001"), None);
    let narrow = client("wiki", Some(&["name", "email"]));
    let c = for_scopes(
        &u,
        &["openid", "profile", "email", "phone"],
        &narrow,
        &IdentitySettings::default(),
    );
    let mut keys: Vec<_> = c.keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["email", "name", "sub"]);
}

#[test]
fn subjects_are_userid_unionid_or_pairwise_per_client() {
    let u = user(None, None, None, None);
    let settings = |subject| IdentitySettings {
        subject,
        pairwise_secret: Secret::new("a-long-enough-pairwise-secret"),
        ..Default::default()
    };
    assert_eq!(subject(&u.identity, &settings(SubjectKind::Userid), "a"), "zhangsan");
    assert_eq!(subject(&u.identity, &settings(SubjectKind::Unionid), "a"), "u1");
    let pairwise = settings(SubjectKind::Pairwise);
    let (a, b) = (
        subject(&u.identity, &pairwise, "a"),
        subject(&u.identity, &pairwise, "b"),
    );
    assert_ne!(a, b, "not linkable across clients");
    assert_eq!(a, subject(&u.identity, &pairwise, "a"), "stable for one client");
    assert!(!a.contains("zhangsan") && a.len() == 43);
}
