//! From a userid to the canonical identity: the member's profile and departments. The
//! unionid→userid mapping and departments are cached, so a returning person costs one call.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::json;

use super::models::{ByUnionId, DepartmentDetail, Me, UserDetail};
use super::{DingTalk, DingTalkError, Repeat};
use crate::identity::{Department, Identity};

/// How many mappings are kept before the cache starts over.
const UNIONID_CACHE_LIMIT: usize = 50_000;
/// DingTalk's refusals to show a department to this app (DINGTALK-API.md Appendix B.2): no
/// department permission (60011), outside the app's contact scope (50004), not found (60003).
const UNREADABLE_DEPARTMENT: [i64; 3] = [60011, 50004, 60003];
/// Deeper than any real organisation chart; stops a malformed parent chain.
const MAX_DEPARTMENT_DEPTH: usize = 32;

/// unionid → userid. Both are immutable for one employment, so entries never expire; a mapping
/// that stops working (the person left, or left and came back under a new userid) is dropped
/// when `user/get` says so.
#[derive(Debug, Default)]
pub struct UnionIdCache(Mutex<HashMap<String, String>>);

impl UnionIdCache {
    fn get(&self, unionid: &str) -> Option<String> {
        self.0.lock().ok()?.get(unionid).cloned()
    }

    fn put(&self, unionid: &str, userid: &str) {
        if let Ok(mut map) = self.0.lock() {
            if map.len() >= UNIONID_CACHE_LIMIT {
                map.clear();
            }
            map.insert(unionid.to_owned(), userid.to_owned());
        }
    }

    fn forget(&self, unionid: &str) {
        if let Ok(mut map) = self.0.lock() {
            map.remove(unionid);
        }
    }
}

/// Whether a userid came from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cached {
    Yes,
    No,
}

/// Department id → (name, parent), each remembered for `ttl` seconds.
#[derive(Debug)]
pub struct DepartmentCache {
    ttl: i64,
    entries: Mutex<HashMap<i64, (DepartmentDetail, i64)>>,
}

impl DepartmentCache {
    pub fn new(ttl: i64) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, id: i64, now: i64) -> Option<DepartmentDetail> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(&id)
            .filter(|(_, fetched)| now < fetched + self.ttl)
            .map(|(d, _)| d.clone())
    }

    fn put(&self, detail: &DepartmentDetail, now: i64) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(detail.dept_id, (detail.clone(), now));
        }
    }

    fn forget(&self, ids: &[i64]) {
        if let Ok(mut entries) = self.entries.lock() {
            for id in ids {
                entries.remove(id);
            }
        }
    }
}

impl DingTalk {
    /// Departments DingTalk said changed are read again when next needed.
    pub fn forget_departments(&self, ids: &[i64]) {
        self.departments.forget(ids);
    }

    /// The member's userid: `topapi/user/getbyunionid` (§8.1), or the cache.
    async fn userid_by_unionid(&self, unionid: &str) -> Result<(String, Cached), DingTalkError> {
        if let Some(userid) = self.unionids.get(unionid) {
            return Ok((userid, Cached::Yes));
        }
        let found: ByUnionId = self
            .oapi_call("topapi/user/getbyunionid", Repeat::Safe, &json!({ "unionid": unionid }))
            .await
            .map_err(|e| match e.oapi_code() {
                Some(60121) => DingTalkError::NotMember,
                _ => e.into_error("topapi/user/getbyunionid"),
            })?;
        if found.contact_type != 0 {
            // An external contact (contact_type 1) is not a member.
            return Err(DingTalkError::NotMember);
        }
        self.unionids.put(unionid, &found.userid);
        Ok((found.userid, Cached::No))
    }

    /// The identity of the member whose unionid this is. A cached mapping that names someone
    /// who is no longer a member is asked for again once before the answer is "not a member":
    /// a person who left and was hired again has a new userid under the same unionid.
    pub(super) async fn identity_by_unionid(&self, unionid: &str, me: Option<&Me>) -> Result<Identity, DingTalkError> {
        let (userid, cached) = self.userid_by_unionid(unionid).await?;
        match self.identity(&userid, me).await {
            Err(DingTalkError::NotMember) => {
                self.unionids.forget(unionid);
                if cached == Cached::No {
                    return Err(DingTalkError::NotMember);
                }
                let (current, _) = self.userid_by_unionid(unionid).await?;
                if current == userid {
                    return Err(DingTalkError::NotMember);
                }
                self.identity(&current, me).await.inspect_err(|e| {
                    if matches!(e, DingTalkError::NotMember) {
                        self.unionids.forget(unionid);
                    }
                })
            }
            other => other,
        }
    }

    /// The canonical identity of member `userid`: `topapi/v2/user/get` (§9.1) plus departments.
    pub(super) async fn identity(&self, userid: &str, me: Option<&Me>) -> Result<Identity, DingTalkError> {
        let detail: UserDetail = self
            .oapi_call(
                "topapi/v2/user/get",
                Repeat::Safe,
                &json!({ "userid": userid, "language": "zh_CN" }),
            )
            .await
            .map_err(|e| match e.oapi_code() {
                Some(60121 | 60111 | 33012) => DingTalkError::NotMember,
                Some(50002) => DingTalkError::NotVisible,
                _ => e.into_error("topapi/v2/user/get"),
            })?;
        let mut departments = Vec::with_capacity(detail.dept_id_list.len());
        let mut partial = false;
        for id in &detail.dept_id_list {
            let (department, complete) = self.department(*id).await?;
            partial |= !complete;
            departments.extend(department);
        }
        let mut identity = build_identity(detail, me, departments, &self.corp_id);
        identity.departments_partial = partial;
        Ok(identity)
    }

    /// A department with its lineage up to the root, from `topapi/v2/department/get` (§10.1),
    /// as far as DingTalk lets it be read (Appendix B.2); whether all of it could be. `None`:
    /// not even the department itself could.
    async fn department(&self, id: i64) -> Result<(Option<Department>, bool), DingTalkError> {
        let mut chain = Vec::new();
        let mut next = Some(id);
        let mut complete = true;
        while let Some(current) = next {
            if chain.len() >= MAX_DEPARTMENT_DEPTH || chain.iter().any(|d: &DepartmentDetail| d.dept_id == current) {
                break;
            }
            let detail = match self.department_detail(current).await? {
                Ok(detail) => detail,
                Err(code) => {
                    self.tell_of_unreadable_department(current, code);
                    complete = false;
                    break;
                }
            };
            next = detail.parent_id.filter(|_| current != 1);
            chain.push(detail);
        }
        if chain.is_empty() {
            return Ok((None, false));
        }
        chain.reverse();
        let department = Department {
            id,
            name: chain.last().map(|d| d.name.clone()).unwrap_or_default(),
            lineage: chain.iter().map(|d| d.dept_id).collect(),
            path: chain.iter().map(|d| d.name.as_str()).collect::<Vec<_>>().join("/"),
        };
        Ok((Some(department), complete))
    }

    /// A department's details, or the errcode of DingTalk's refusal to show it to this app.
    async fn department_detail(&self, id: i64) -> Result<Result<DepartmentDetail, i64>, DingTalkError> {
        let now = self.clock.now();
        if let Some(cached) = self.departments.get(id, now) {
            return Ok(Ok(cached));
        }
        let answer = self
            .oapi_call::<DepartmentDetail>(
                "topapi/v2/department/get",
                Repeat::Safe,
                &json!({ "dept_id": id, "language": "zh_CN" }),
            )
            .await;
        let detail = match answer {
            Ok(detail) => detail,
            Err(e) => match e.oapi_code() {
                Some(code) if UNREADABLE_DEPARTMENT.contains(&code) => return Ok(Err(code)),
                _ => return Err(e.into_error("topapi/v2/department/get")),
            },
        };
        self.departments.put(&detail, now);
        Ok(Ok(detail))
    }

    /// Says once, for operators, that logins go on with the departments that could be read.
    fn tell_of_unreadable_department(&self, id: i64, code: i64) {
        use std::sync::atomic::Ordering;
        if self.unreadable_departments_told.swap(true, Ordering::Relaxed) {
            tracing::debug!(dept_id = id, errcode = code, "DingTalk would not show a department");
            return;
        }
        let why = match code {
            60011 => "the app lacks the department permission (通讯录部门信息读权限, qyapi_get_department_list)",
            50004 => "the department is outside the app's contact scope (通讯录范围)",
            _ => "the department was not found",
        };
        tracing::warn!(
            dept_id = id,
            errcode = code,
            "DingTalk would not show a department: {why}. People log in with the departments that can be read; \
             department rules (policy allow_departments/deny_departments) that depend on the others refuse them. \
             Said once."
        );
    }
}

fn build_identity(d: UserDetail, me: Option<&Me>, departments: Vec<Department>, corp_id: &str) -> Identity {
    let non_empty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let from_me = |f: fn(&Me) -> Option<String>| me.and_then(|m| non_empty(f(m)));
    Identity {
        userid: d.userid.into(),
        unionid: d.unionid,
        corp_id: corp_id.to_owned(),
        name: d.name,
        avatar: non_empty(d.avatar).or_else(|| from_me(|m| m.avatar_url.clone())),
        mobile: non_empty(d.mobile),
        state_code: non_empty(d.state_code),
        org_email: non_empty(d.org_email),
        email: non_empty(d.email).or_else(|| from_me(|m| m.email.clone())),
        job_number: non_empty(d.job_number),
        title: non_empty(d.title),
        dept_ids: d.dept_id_list,
        departments,
        departments_partial: false,
        roles: d.role_list.into_iter().map(|r| r.name).collect(),
        active: d.active,
        admin: d.admin,
        boss: d.boss,
    }
}
