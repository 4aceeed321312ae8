//! Claims about a person, released by scope (OIDC Core 5.4) and by what each client may receive.

use serde_json::{Map, Value, json};

use super::Client;
use crate::config::{GroupsFormat, IdentitySettings, RELEASABLE_CLAIMS, SubjectKind};
use crate::crypto::{b64url, hmac_sha256};
use crate::identity::Identity;
use crate::store::UserRecord;

/// Claims of the protocol itself, always present where they apply.
pub const PROTOCOL_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "at_hash",
    "amr",
    "sid",
];

/// `sub` for `client`: the userid (default), the unionid, or a pairwise value that differs per
/// client and cannot be linked across them (OIDC Core 8.1).
pub fn subject(identity: &Identity, settings: &IdentitySettings, client_id: &str) -> String {
    match settings.subject {
        SubjectKind::Userid => identity.userid.to_string(),
        SubjectKind::Unionid => identity.unionid.clone(),
        SubjectKind::Pairwise => {
            let message = format!("{client_id}\u{0}{}", identity.userid);
            b64url(hmac_sha256(
                settings.pairwise_secret.expose().as_bytes(),
                message.as_bytes(),
            ))
        }
    }
}

/// The claims `scopes` release about `user` to `client`, less what the client is not allowed
/// to receive.
pub fn for_scopes(
    user: &UserRecord,
    scopes: &[&str],
    client: &Client,
    settings: &IdentitySettings,
) -> Map<String, Value> {
    let id = &user.identity;
    let mut claims = Map::new();
    let mut put = |name: &str, value: Value| {
        claims.insert(name.to_owned(), value);
    };
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
    if scopes.contains(&"groups") {
        put("groups", json!(groups(id, settings.groups)));
    }
    // DingTalk's own facts about the person, with a scope of their own: `openid` alone
    // releases nothing personal.
    if scopes.contains(&"dingtalk") {
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
    }
    if let Some(allowed) = &client.claims {
        claims.retain(|name, _| allowed.iter().any(|a| a == name));
    }
    debug_assert!(claims.keys().all(|k| RELEASABLE_CLAIMS.contains(&k.as_str())));
    claims.insert("sub".to_owned(), json!(subject(id, settings, &client.id)));
    claims
}

/// Department names, or full paths, without repeats.
fn groups(id: &Identity, format: GroupsFormat) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(id.departments.len());
    for d in &id.departments {
        let value = match format {
            GroupsFormat::Names => &d.name,
            GroupsFormat::Paths => &d.path,
        };
        if !out.contains(value) {
            out.push(value.clone());
        }
    }
    out
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
    let country = if country.is_empty() { "86".to_owned() } else { country };
    Some(format!("+{country}{digits}"))
}

#[cfg(test)]
mod tests;
