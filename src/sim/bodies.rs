//! Directory records rendered as DingTalk serves them: `users/me` (camelCase),
//! `topapi/v2/user/get` and `topapi/v2/department/get` results (snake_case, real JSON types,
//! unset optional fields omitted rather than null).

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use serde_json::{Map, Value, json};

use super::access::AppAccess;
use super::directory::{Department, Directory, Member, Person};

/// `GET /v1.0/contact/users/me` for `person` as seen by app `client_id`.
pub(crate) fn users_me(person: Person<'_>, client_id: &str) -> Value {
    let (nick, avatar, mobile, state_code, email) = match person {
        Person::Member(m) => (
            &m.name,
            m.avatar.as_deref(),
            m.mobile.as_deref(),
            m.state_code.as_str(),
            m.email.as_deref(),
        ),
        Person::Outsider(o) => (&o.nick, None, o.mobile.as_deref(), "86", o.email.as_deref()),
    };
    let mut body = Map::new();
    body.insert("nick".into(), json!(nick));
    insert_some(&mut body, "avatarUrl", avatar);
    if let Some(mobile) = mobile {
        body.insert("mobile".into(), json!(mobile));
        body.insert("stateCode".into(), json!(state_code));
    }
    body.insert("openId".into(), json!(open_id(client_id, person.unionid())));
    body.insert("unionId".into(), json!(person.unionid()));
    insert_some(&mut body, "email", email);
    body.insert("visitor".into(), json!(false));
    Value::Object(body)
}

/// `topapi/v2/user/get` `result` for a member, with the fields the app's permissions allow.
pub(crate) fn user_get(directory: &Directory, m: &Member, access: &AppAccess) -> Value {
    let mut r = Map::new();
    r.insert("userid".into(), json!(m.userid));
    r.insert("unionid".into(), json!(m.unionid));
    r.insert("name".into(), json!(m.name));
    insert_some(&mut r, "avatar", m.avatar.as_deref());
    if let Some(mobile) = m.mobile.as_ref().filter(|_| access.phone) {
        r.insert("mobile".into(), json!(mobile));
        r.insert("state_code".into(), json!(m.state_code));
    }
    r.insert("hide_mobile".into(), json!(false));
    insert_some(&mut r, "title", m.title.as_deref());
    insert_some(&mut r, "job_number", m.job_number.as_deref());
    if access.email {
        insert_some(&mut r, "email", m.email.as_deref());
        insert_some(&mut r, "org_email", m.org_email.as_deref());
    }
    insert_some(&mut r, "manager_userid", m.manager_userid.as_deref());
    if let Some(hired) = m.hired_date {
        r.insert("hired_date".into(), json!(hired));
    }
    r.insert("dept_id_list".into(), json!(m.dept_id_list));
    let orders: Vec<Value> = m
        .dept_id_list
        .iter()
        .map(|d| json!({ "dept_id": d, "order": dept_order(&m.userid, *d) }))
        .collect();
    r.insert("dept_order_list".into(), Value::Array(orders));
    let leaders: Vec<Value> = m
        .dept_id_list
        .iter()
        .map(|d| json!({ "dept_id": d, "leader": leads(directory, m, *d) }))
        .collect();
    r.insert("leader_in_dept".into(), Value::Array(leaders));
    let roles: Vec<Value> = m
        .roles
        .iter()
        .map(|role| json!({ "id": role.id, "name": role.name, "group_name": role.group_name }))
        .collect();
    r.insert("role_list".into(), Value::Array(roles));
    r.insert("active".into(), json!(m.active));
    r.insert("admin".into(), json!(m.admin));
    r.insert("boss".into(), json!(m.boss));
    r.insert("real_authed".into(), json!(m.active));
    r.insert("senior".into(), json!(false));
    r.insert("exclusive_account".into(), json!(false));
    Value::Object(r)
}

/// `topapi/v2/department/get` `result`.
pub(crate) fn department_get(directory: &Directory, dept: &Department) -> Value {
    let managers: Vec<&str> = directory
        .members()
        .iter()
        .filter(|m| m.dept_id_list.contains(&dept.id) && leads(directory, m, dept.id))
        .map(|m| m.userid.as_str())
        .collect();
    let mut r = Map::new();
    r.insert("dept_id".into(), json!(dept.id));
    r.insert("name".into(), json!(dept.name));
    if let Some(parent) = dept.parent_id {
        r.insert("parent_id".into(), json!(parent));
    }
    r.insert("order".into(), json!(directory.department_index(dept.id)));
    r.insert("brief".into(), json!(""));
    r.insert("auto_add_user".into(), json!(true));
    r.insert("create_dept_group".into(), json!(false));
    r.insert("group_contain_sub_dept".into(), json!(false));
    r.insert("hide_dept".into(), json!(false));
    r.insert("outer_dept".into(), json!(false));
    r.insert("dept_manager_userid_list".into(), json!(managers));
    r.insert("outer_permit_depts".into(), json!([]));
    r.insert("outer_permit_users".into(), json!([]));
    r.insert("dept_permits".into(), json!([]));
    r.insert("user_permits".into(), json!([]));
    Value::Object(r)
}

/// The per-app `openId`: stable for one (app, person) pair, different across apps.
pub(crate) fn open_id(client_id: &str, unionid: &str) -> String {
    let digest = digest::digest(&digest::SHA256, format!("{client_id}\n{unionid}").as_bytes());
    let text: String = STANDARD_NO_PAD
        .encode(digest.as_ref())
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(23)
        .collect();
    format!("{text}iEiE")
}

/// A member leads a department when another member of it reports to them.
fn leads(directory: &Directory, m: &Member, dept_id: i64) -> bool {
    directory.members().iter().any(|other| {
        other.manager_userid.as_deref() == Some(m.userid.as_str()) && other.dept_id_list.contains(&dept_id)
    })
}

/// A stable order value in the range real ones use: above 2^53, so a client parsing it as f64
/// loses precision (DINGTALK-API.md §9.1).
fn dept_order(userid: &str, dept_id: i64) -> i64 {
    let digest = digest::digest(&digest::SHA256, format!("{userid}\n{dept_id}").as_bytes());
    let bytes: [u8; 8] = digest
        .as_ref()
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .unwrap_or_default();
    let spread = i64::from_be_bytes(bytes).rem_euclid(10_000_000_000_000_000);
    176_000_000_000_000_000 + spread
}

fn insert_some(map: &mut Map<String, Value>, key: &str, value: Option<&str>) {
    if let Some(value) = value {
        map.insert(key.to_owned(), json!(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_ids_differ_per_app_and_are_stable() {
        assert_eq!(open_id("a", "u"), open_id("a", "u"));
        assert_ne!(open_id("a", "u"), open_id("b", "u"));
        assert_eq!(open_id("a", "u").len(), 27);
    }

    #[test]
    fn dept_orders_exceed_f64_integer_precision() {
        let order = dept_order("zhangsan", 2);
        assert!(order > 1 << 53);
        assert_eq!(order, dept_order("zhangsan", 2));
    }
}
