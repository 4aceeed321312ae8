//! Cross-references a parsed directory: unique ids, existing departments and managers, a
//! department tree rooted at 1, unique legacy app ids, usable redirect URIs.

use std::collections::HashSet;

use super::reader::field_error;
use super::{Department, Directory, DirectoryError, ROOT_DEPT};

impl Directory {
    pub(super) fn validate(&mut self) -> Result<(), DirectoryError> {
        if self.apps.is_empty() {
            return Err(field_error("apps", "needs at least one [[apps]] entry".to_owned()));
        }
        let mut client_ids = HashSet::new();
        for (i, app) in self.apps.iter().enumerate() {
            if !client_ids.insert(app.client_id.as_str()) {
                return Err(field_error(
                    &format!("apps[{i}].client_id"),
                    "is a duplicate".to_owned(),
                ));
            }
            check_redirect_uris(&format!("apps[{i}]"), &app.redirect_uris)?;
        }
        self.validate_legacy_apps()?;
        self.validate_departments()?;
        self.validate_people()
    }

    fn validate_legacy_apps(&self) -> Result<(), DirectoryError> {
        let mut app_ids = HashSet::new();
        for (i, app) in self.legacy_apps.iter().enumerate() {
            if !app_ids.insert(app.app_id.as_str()) {
                return Err(field_error(
                    &format!("legacy_apps[{i}].app_id"),
                    "is a duplicate".to_owned(),
                ));
            }
            check_redirect_uris(&format!("legacy_apps[{i}]"), &app.redirect_uris)?;
        }
        Ok(())
    }

    fn validate_departments(&mut self) -> Result<(), DirectoryError> {
        if self.department(ROOT_DEPT).is_none() {
            self.departments.insert(
                0,
                Department {
                    id: ROOT_DEPT,
                    name: self.corp_name.clone(),
                    parent_id: None,
                },
            );
        }
        let mut seen = HashSet::new();
        for (i, dept) in self.departments.iter().enumerate() {
            let path = format!("departments[{i}]");
            if dept.id < 1 {
                return Err(field_error(
                    &format!("{path}.dept_id"),
                    "must be a positive integer".to_owned(),
                ));
            }
            if !seen.insert(dept.id) {
                return Err(field_error(
                    &format!("{path}.dept_id"),
                    format!("{} is a duplicate", dept.id),
                ));
            }
            match dept.parent_id {
                Some(_) if dept.id == ROOT_DEPT => {
                    return Err(field_error(
                        &format!("{path}.parent_id"),
                        "must be omitted for the root department 1".to_owned(),
                    ));
                }
                Some(parent) if self.department(parent).is_none() => {
                    return Err(field_error(
                        &format!("{path}.parent_id"),
                        format!("department {parent} does not exist"),
                    ));
                }
                _ => {}
            }
        }
        for (i, dept) in self.departments.iter().enumerate() {
            if self.department_chain(dept.id).last() != Some(&ROOT_DEPT) {
                return Err(field_error(
                    &format!("departments[{i}].parent_id"),
                    format!(
                        "department {} does not lead up to the root department 1 (cycle)",
                        dept.id
                    ),
                ));
            }
        }
        Ok(())
    }

    fn validate_people(&self) -> Result<(), DirectoryError> {
        let mut userids = HashSet::new();
        let mut unionids = HashSet::new();
        for (i, member) in self.members.iter().enumerate() {
            let path = format!("users[{i}]");
            if !userids.insert(member.userid.as_str()) {
                return Err(field_error(
                    &format!("{path}.userid"),
                    format!("{:?} is a duplicate", member.userid),
                ));
            }
            if !unionids.insert(member.unionid.as_str()) {
                return Err(field_error(
                    &format!("{path}.unionid"),
                    format!("{:?} is a duplicate", member.unionid),
                ));
            }
            for (j, dept) in member.dept_id_list.iter().enumerate() {
                if self.department(*dept).is_none() {
                    return Err(field_error(
                        &format!("{path}.dept_id_list[{j}]"),
                        format!("department {dept} does not exist"),
                    ));
                }
            }
            if let Some(manager) = &member.manager_userid
                && (manager == &member.userid || self.member_by_userid(manager).is_none())
            {
                return Err(field_error(
                    &format!("{path}.manager_userid"),
                    format!("{manager:?} is not another member's userid"),
                ));
            }
        }
        for (i, outsider) in self.outsiders.iter().enumerate() {
            if !unionids.insert(outsider.unionid.as_str()) {
                return Err(field_error(
                    &format!("outsiders[{i}].unionid"),
                    format!("{:?} is already used by another person", outsider.unionid),
                ));
            }
        }
        Ok(())
    }
}

fn check_redirect_uris(path: &str, uris: &[String]) -> Result<(), DirectoryError> {
    match uris.iter().position(|uri| !is_web_url(uri)) {
        Some(j) => Err(field_error(
            &format!("{path}.redirect_uris[{j}]"),
            "must be an absolute http(s) URL".to_owned(),
        )),
        None => Ok(()),
    }
}

fn is_web_url(text: &str) -> bool {
    url::Url::parse(text).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
}
