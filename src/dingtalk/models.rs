//! The fields dingo reads from DingTalk's answers (names and types per DINGTALK-API.md).

use crate::config::Secret;
use serde::Deserialize;

/// `POST /v1.0/oauth2/accessToken` (§3.2).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppAccessToken {
    pub access_token: Secret,
    pub expire_in: i64,
}

/// `POST /v1.0/oauth2/userAccessToken` (§6.4).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserAccessToken {
    pub access_token: Secret,
    #[serde(default)]
    pub corp_id: Option<String>,
}

/// `GET /v1.0/contact/users/me` (§6.5).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    pub union_id: String,
    #[serde(default)]
    pub avatar_url: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct OapiResult<T> {
    pub result: T,
}

/// `topapi/user/getbyunionid` result (§8.1).
#[derive(Debug, Deserialize)]
pub struct ByUnionId {
    pub userid: String,
    /// 0 member, 1 external contact.
    #[serde(default)]
    pub contact_type: i64,
}

/// `topapi/v2/user/get` result (§9.1): the fields dingo uses.
#[derive(Debug, Deserialize)]
pub struct UserDetail {
    pub userid: String,
    pub unionid: String,
    pub name: String,
    #[serde(default)]
    pub avatar: Option<String>,
    #[serde(default)]
    pub mobile: Option<String>,
    #[serde(default)]
    pub state_code: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub org_email: Option<String>,
    #[serde(default)]
    pub job_number: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub dept_id_list: Vec<i64>,
    #[serde(default)]
    pub role_list: Vec<RoleInfo>,
    #[serde(default)]
    pub active: bool,
    #[serde(default)]
    pub admin: bool,
    #[serde(default)]
    pub boss: bool,
}

/// `role_list` entries of `topapi/v2/user/get`.
#[derive(Debug, Deserialize)]
pub struct RoleInfo {
    pub name: String,
}

/// `topapi/v2/department/get` result (§10.1).
#[derive(Debug, Clone, Deserialize)]
pub struct DepartmentDetail {
    pub dept_id: i64,
    pub name: String,
    /// Absent for the root department.
    #[serde(default)]
    pub parent_id: Option<i64>,
}

/// `topapi/v2/user/getuserinfo` result (§4.4).
#[derive(Debug, Deserialize)]
pub struct InAppUser {
    pub userid: String,
}

/// `sns/getuserinfo_bycode` (§7.2).
#[derive(Debug, Deserialize)]
pub struct SnsUserInfo {
    pub user_info: SnsUser,
}

#[derive(Debug, Deserialize)]
pub struct SnsUser {
    pub unionid: String,
}
