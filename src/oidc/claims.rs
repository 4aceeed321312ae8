//! Claims about a person, released by scope (OIDC Core 5.4).

use serde_json::{Map, Value, json};

use crate::identity::Identity;
use crate::store::UserRecord;

/// Every claim dingo may release, for discovery.
pub const SUPPORTED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "at_hash",
    "name",
    "picture",
    "preferred_username",
    "updated_at",
    "email",
    "email_verified",
    "phone_number",
    "phone_number_verified",
    "userid",
    "unionid",
    "corp_id",
    "job_number",
    "title",
    "dept_ids",
];

/// `sub` is the DingTalk userid: the organisation's own immutable id for the member, so an
/// app's accounts line up with the directory. (A person who leaves and rejoins gets a new one.)
pub fn subject(identity: &Identity) -> &str {
    &identity.userid
}

/// The claims `scopes` release about `user`, plus the DingTalk claims every client receives.
pub fn for_scopes(user: &UserRecord, scopes: &[&str]) -> Map<String, Value> {
    let id = &user.identity;
    let mut claims = Map::new();
    let mut put = |name: &str, value: Value| {
        claims.insert(name.to_owned(), value);
    };
    put("sub", json!(subject(id)));
    if scopes.contains(&"profile") {
        put("name", json!(id.name));
        if let Some(avatar) = &id.avatar {
            put("picture", json!(avatar));
        }
        put("preferred_username", json!(preferred_username(id)));
        put("updated_at", json!(user.updated_at));
    }
    if scopes.contains(&"email") {
        // Only a mailbox the organisation assigned is verified; a self-entered one is not.
        if let Some(org_email) = &id.org_email {
            put("email", json!(org_email));
            put("email_verified", json!(true));
        } else if let Some(email) = &id.email {
            put("email", json!(email));
            put("email_verified", json!(false));
        }
    }
    if scopes.contains(&"phone")
        && let Some(phone) = e164(id)
    {
        put("phone_number", json!(phone));
        // DingTalk accounts are registered and logged in to by SMS-verified mobile number.
        put("phone_number_verified", json!(true));
    }
    put("userid", json!(id.userid));
    put("unionid", json!(id.unionid));
    put("corp_id", json!(id.corp_id));
    if let Some(job_number) = &id.job_number {
        put("job_number", json!(job_number));
    }
    if let Some(title) = &id.title {
        put("title", json!(title));
    }
    put("dept_ids", json!(id.dept_ids));
    claims
}

/// The local part of the organisation mailbox when there is one, else the userid.
fn preferred_username(id: &Identity) -> &str {
    id.org_email
        .as_deref()
        .and_then(|mail| mail.split_once('@').map(|(local, _)| local))
        .filter(|local| !local.is_empty())
        .unwrap_or(&id.userid)
}

/// `+<country code><number>`; DingTalk gives them apart (`state_code` "86", `mobile`).
fn e164(id: &Identity) -> Option<String> {
    let mobile = id.mobile.as_deref()?;
    let digits: String = mobile.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return None;
    }
    if mobile.trim_start().starts_with('+') {
        return Some(format!("+{digits}"));
    }
    let country: String = id
        .state_code
        .as_deref()
        .unwrap_or("86")
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let country = if country.is_empty() {
        "86".to_owned()
    } else {
        country
    };
    Some(format!("+{country}{digits}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(
        org_email: Option<&str>,
        email: Option<&str>,
        mobile: Option<&str>,
        state_code: Option<&str>,
    ) -> UserRecord {
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
                active: true,
                admin: false,
                boss: false,
            },
            updated_at: 1000,
            last_login_at: 1000,
        }
    }

    #[test]
    fn only_an_organisation_mailbox_is_verified() {
        let org = for_scopes(
            &user(Some("zs@example.com"), Some("me@qq.com"), None, None),
            &["openid", "email"],
        );
        assert_eq!(
            (org["email"].clone(), org["email_verified"].clone()),
            (json!("zs@example.com"), json!(true))
        );
        let personal = for_scopes(
            &user(None, Some("me@qq.com"), None, None),
            &["openid", "email"],
        );
        assert_eq!(
            (
                personal["email"].clone(),
                personal["email_verified"].clone()
            ),
            (json!("me@qq.com"), json!(false))
        );
        let none = for_scopes(
            &user(None, None, Some("13800000001"), None),
            &["openid", "email"],
        );
        assert!(
            !none.contains_key("email"),
            "the mobile number never becomes an email"
        );
    }

    #[test]
    fn phone_numbers_are_e164() {
        let cn = for_scopes(
            &user(None, None, Some("13800000001"), Some("86")),
            &["openid", "phone"],
        );
        assert_eq!(cn["phone_number"], json!("+8613800000001"));
        let us = for_scopes(
            &user(None, None, Some("415-555-0100"), Some("1")),
            &["openid", "phone"],
        );
        assert_eq!(us["phone_number"], json!("+14155550100"));
    }

    #[test]
    fn claims_follow_the_scopes() {
        let u = user(Some("zs@example.com"), None, Some("13800000001"), None);
        let minimal = for_scopes(&u, &["openid"]);
        for absent in ["name", "email", "phone_number", "preferred_username"] {
            assert!(!minimal.contains_key(absent), "{absent}");
        }
        assert_eq!(minimal["sub"], json!("zhangsan"));
        assert_eq!(minimal["dept_ids"], json!([2, 4]));
        let profile = for_scopes(&u, &["openid", "profile"]);
        assert_eq!(profile["preferred_username"], json!("zs"));
        assert_eq!(profile["updated_at"], json!(1000));
        assert_eq!(profile["name"], json!("张三"));
    }
}
