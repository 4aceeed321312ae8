//! The directory TOML schema: which keys each table may hold and how each is read.

use super::reader::Fields;
use super::reader::field_error;
use super::{
    App, Department, Directory, DirectoryError, LegacyApp, LegacySignature, Member, Outsider, ROOT_DEPT, Role,
};

const TOP_KEYS: &[&str] = &[
    "corp_id",
    "corp_name",
    "apps",
    "departments",
    "users",
    "outsiders",
    "legacy_apps",
    "legacy_signature",
];
const APP_KEYS: &[&str] = &["client_id", "client_secret", "redirect_uris"];
const LEGACY_APP_KEYS: &[&str] = &["app_id", "app_secret", "redirect_uris"];
const DEPT_KEYS: &[&str] = &["dept_id", "name", "parent_id"];
const USER_KEYS: &[&str] = &[
    "userid",
    "unionid",
    "name",
    "avatar",
    "mobile",
    "state_code",
    "email",
    "org_email",
    "title",
    "job_number",
    "dept_id_list",
    "role_list",
    "admin",
    "boss",
    "active",
    "visible",
    "hired_date",
    "manager_userid",
];
const ROLE_KEYS: &[&str] = &["id", "name", "group_name"];
const OUTSIDER_KEYS: &[&str] = &["unionid", "nick", "mobile", "email"];

pub(super) fn parse(text: &str) -> Result<Directory, DirectoryError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| DirectoryError::Syntax(e.to_string()))?;
    let mut top = Fields::new(String::new(), toml::Value::Table(table), TOP_KEYS)?;
    let corp_id = top.required_str("corp_id")?;
    let corp_name = top.required_str("corp_name")?;
    let apps = top
        .table_list("apps", APP_KEYS)?
        .into_iter()
        .map(read_app)
        .collect::<Result<Vec<_>, _>>()?;
    let departments = top
        .table_list("departments", DEPT_KEYS)?
        .into_iter()
        .map(read_department)
        .collect::<Result<Vec<_>, _>>()?;
    let members = top
        .table_list("users", USER_KEYS)?
        .into_iter()
        .map(read_member)
        .collect::<Result<Vec<_>, _>>()?;
    let outsiders = top
        .table_list("outsiders", OUTSIDER_KEYS)?
        .into_iter()
        .map(read_outsider)
        .collect::<Result<Vec<_>, _>>()?;
    let legacy_apps = top
        .table_list("legacy_apps", LEGACY_APP_KEYS)?
        .into_iter()
        .map(read_legacy_app)
        .collect::<Result<Vec<_>, _>>()?;
    let legacy_signature = match top.optional_str("legacy_signature")?.as_deref() {
        None | Some("timestamp") => LegacySignature::Timestamp,
        Some("timestamp_newline_secret") => LegacySignature::TimestampNewlineSecret,
        Some(other) => {
            return Err(field_error(
                "legacy_signature",
                format!("must be \"timestamp\" or \"timestamp_newline_secret\", not {other:?}"),
            ));
        }
    };
    Ok(Directory {
        corp_id,
        corp_name,
        apps,
        departments,
        members,
        outsiders,
        legacy_apps,
        legacy_signature,
    })
}

fn read_app(mut f: Fields) -> Result<App, DirectoryError> {
    Ok(App {
        client_id: f.required_str("client_id")?,
        client_secret: f.required_str("client_secret")?,
        redirect_uris: f.str_list("redirect_uris")?,
    })
}

fn read_legacy_app(mut f: Fields) -> Result<LegacyApp, DirectoryError> {
    Ok(LegacyApp {
        app_id: f.required_str("app_id")?,
        app_secret: f.required_str("app_secret")?,
        redirect_uris: f.str_list("redirect_uris")?,
    })
}

fn read_department(mut f: Fields) -> Result<Department, DirectoryError> {
    let id = f.required_int("dept_id")?;
    let name = f.required_str("name")?;
    let parent_id = f.optional_int("parent_id")?;
    Ok(Department {
        id,
        name,
        // "Omit for root 1": any other department without a parent hangs under the root.
        parent_id: parent_id.or((id != ROOT_DEPT).then_some(ROOT_DEPT)),
    })
}

fn read_member(mut f: Fields) -> Result<Member, DirectoryError> {
    let userid = f.required_str("userid")?;
    let unionid = f.required_str("unionid")?;
    let name = f.required_str("name")?;
    let avatar = f.optional_str("avatar")?;
    let mobile = f.optional_str("mobile")?;
    let state_code = f.optional_str("state_code")?.unwrap_or_else(|| "86".to_owned());
    let email = f.optional_str("email")?;
    let org_email = f.optional_str("org_email")?;
    let title = f.optional_str("title")?;
    let job_number = f.optional_str("job_number")?;
    let mut dept_id_list = f.int_list("dept_id_list")?;
    if dept_id_list.is_empty() {
        dept_id_list.push(ROOT_DEPT);
    }
    let roles = f
        .table_list("role_list", ROLE_KEYS)?
        .into_iter()
        .map(read_role)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Member {
        userid,
        unionid,
        name,
        avatar,
        mobile,
        state_code,
        email,
        org_email,
        title,
        job_number,
        dept_id_list,
        roles,
        admin: f.optional_bool("admin")?.unwrap_or(false),
        boss: f.optional_bool("boss")?.unwrap_or(false),
        active: f.optional_bool("active")?.unwrap_or(true),
        visible: f.optional_bool("visible")?.unwrap_or(true),
        hired_date: f.optional_int("hired_date")?,
        manager_userid: f.optional_str("manager_userid")?,
    })
}

fn read_role(mut f: Fields) -> Result<Role, DirectoryError> {
    Ok(Role {
        id: f.required_int("id")?,
        name: f.required_str("name")?,
        group_name: f.required_str("group_name")?,
    })
}

fn read_outsider(mut f: Fields) -> Result<Outsider, DirectoryError> {
    Ok(Outsider {
        unionid: f.required_str("unionid")?,
        nick: f.required_str("nick")?,
        mobile: f.optional_str("mobile")?,
        email: f.optional_str("email")?,
    })
}
