//! What each DingTalk app may read (DINGTALK-API.md Appendix B.2): its permissions and its
//! contact scope (通讯录范围). Without the department permission `department/get` answers
//! 88/60011; without the phone or email permission `user/get` leaves those fields out; outside
//! the scope a department is 50004, a member 50002 on `user/get` and 40079 on `getuserinfo`.

use super::Simulator;
use super::directory::{Directory, Member};

/// An app's permissions and contact scope; by default everything, for the whole organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppAccess {
    /// 通讯录部门信息读权限 (`qyapi_get_department_list`).
    pub departments: bool,
    /// 成员手机号信息: `mobile` and `state_code`.
    pub phone: bool,
    /// 成员邮箱信息: `email` and `org_email`.
    pub email: bool,
    /// The departments in the contact scope, each with everything under it; `None`: the whole
    /// organisation. The root department 1 is outside any partial scope.
    pub scope: Option<Vec<i64>>,
}

impl Default for AppAccess {
    fn default() -> Self {
        Self {
            departments: true,
            phone: true,
            email: true,
            scope: None,
        }
    }
}

impl AppAccess {
    /// Whether department `id` is in the contact scope.
    pub(crate) fn sees_department(&self, directory: &Directory, id: i64) -> bool {
        match &self.scope {
            None => true,
            Some(scope) => directory.department_chain(id).iter().any(|d| scope.contains(d)),
        }
    }

    /// Whether member `m` is in the contact scope (and not hidden from every app).
    pub(crate) fn sees_member(&self, directory: &Directory, m: &Member) -> bool {
        m.visible && (self.scope.is_none() || m.dept_id_list.iter().any(|d| self.sees_department(directory, *d)))
    }
}

impl Simulator {
    /// What app `client_id` may read from now on.
    pub fn set_app_access(&self, client_id: &str, access: AppAccess) {
        self.controls().access.insert(client_id.to_owned(), access);
    }

    pub(crate) fn app_access(&self, client_id: &str) -> AppAccess {
        self.controls().access.get(client_id).cloned().unwrap_or_default()
    }
}
