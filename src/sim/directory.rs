//! The simulated organisation: its apps, departments, members and the DingTalk accounts that are
//! not members ("outsiders"). Loaded from TOML; every error names the offending field path.

mod parse;
mod reader;
mod validate;

use std::path::{Path, PathBuf};

/// Why a directory file was refused.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("cannot read directory file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("directory is not valid TOML: {0}")]
    Syntax(String),
    #[error("directory field `{path}` {message}")]
    Field { path: String, message: String },
}

/// A whole simulated organisation (one corp).
#[derive(Clone, Debug)]
pub struct Directory {
    corp_id: String,
    corp_name: String,
    apps: Vec<App>,
    departments: Vec<Department>,
    members: Vec<Member>,
    outsiders: Vec<Outsider>,
    legacy_apps: Vec<LegacyApp>,
    legacy_signature: LegacySignature,
}

/// An app registered in the developer console (internal app: AppKey = Client ID).
#[derive(Clone)]
pub(crate) struct App {
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    /// Empty = any redirect_uri is accepted.
    pub(crate) redirect_uris: Vec<String>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("redirect_uris", &self.redirect_uris)
            .finish()
    }
}

/// A legacy scan-login (sns) app: `appid`/`appSecret`, used by `/connect/*` and
/// `/sns/getuserinfo_bycode` (DINGTALK-API.md §7).
#[derive(Clone)]
pub(crate) struct LegacyApp {
    pub(crate) app_id: String,
    pub(crate) app_secret: String,
    /// Empty = any redirect_uri is accepted.
    pub(crate) redirect_uris: Vec<String>,
}

impl std::fmt::Debug for LegacyApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LegacyApp")
            .field("app_id", &self.app_id)
            .field("app_secret", &"<redacted>")
            .field("redirect_uris", &self.redirect_uris)
            .finish()
    }
}

/// Which strings `/sns/getuserinfo_bycode` accepts signatures over (DINGTALK-API.md §7.3, §15).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum LegacySignature {
    /// `HMAC-SHA256(appSecret, timestamp)` only, as in the official worked example.
    #[default]
    Timestamp,
    /// Also `HMAC-SHA256(appSecret, timestamp + "\n" + appSecret)`, as a newer page describes.
    TimestampNewlineSecret,
}

#[derive(Clone, Debug)]
pub(crate) struct Department {
    pub(crate) id: i64,
    pub(crate) name: String,
    /// `None` only for the root department 1.
    pub(crate) parent_id: Option<i64>,
}

/// An org member, with the `topapi/v2/user/get` fields the simulator serves.
#[derive(Clone, Debug)]
pub(crate) struct Member {
    pub(crate) userid: String,
    pub(crate) unionid: String,
    pub(crate) name: String,
    pub(crate) avatar: Option<String>,
    pub(crate) mobile: Option<String>,
    pub(crate) state_code: String,
    /// Personal mailbox (the only email `users/me` returns).
    pub(crate) email: Option<String>,
    pub(crate) org_email: Option<String>,
    pub(crate) title: Option<String>,
    pub(crate) job_number: Option<String>,
    /// Never empty: defaults to the root department.
    pub(crate) dept_id_list: Vec<i64>,
    pub(crate) roles: Vec<Role>,
    pub(crate) admin: bool,
    pub(crate) boss: bool,
    pub(crate) active: bool,
    /// Inside the app's contact scope; `false` makes `topapi/v2/user/get` answer 50002.
    pub(crate) visible: bool,
    /// Epoch milliseconds.
    pub(crate) hired_date: Option<i64>,
    pub(crate) manager_userid: Option<String>,
}

#[derive(Clone, Debug)]
pub(crate) struct Role {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) group_name: String,
}

/// A DingTalk account that is not a member of the org: it can log in but has no userid here.
#[derive(Clone, Debug)]
pub(crate) struct Outsider {
    pub(crate) unionid: String,
    pub(crate) nick: String,
    pub(crate) mobile: Option<String>,
    pub(crate) email: Option<String>,
}

/// Anyone who can sign in on the login page.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Person<'a> {
    Member(&'a Member),
    Outsider(&'a Outsider),
}

impl Person<'_> {
    pub(crate) fn unionid(&self) -> &str {
        match self {
            Person::Member(m) => &m.unionid,
            Person::Outsider(o) => &o.unionid,
        }
    }

    /// The member's name, or the outsider's DingTalk nick.
    pub(crate) fn nick(&self) -> &str {
        match self {
            Person::Member(m) => &m.name,
            Person::Outsider(o) => &o.nick,
        }
    }
}

const ROOT_DEPT: i64 = 1;
const SAMPLE: &str = include_str!("sample-directory.toml");

impl Directory {
    /// Reads a directory TOML file.
    pub fn load(path: &Path) -> Result<Self, DirectoryError> {
        let text = std::fs::read_to_string(path).map_err(|source| DirectoryError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text)
    }

    pub fn from_toml(text: &str) -> Result<Self, DirectoryError> {
        let mut directory = parse::parse(text)?;
        directory.validate()?;
        Ok(directory)
    }

    /// The built-in sample organisation 示例科技 (Example Tech).
    pub fn sample() -> Self {
        match Self::from_toml(SAMPLE) {
            Ok(directory) => directory,
            Err(error) => {
                // Unreachable while the sample test passes; stay usable rather than panic.
                tracing::error!(%error, "built-in sample directory is invalid");
                Self::fallback()
            }
        }
    }

    pub fn corp_id(&self) -> &str {
        &self.corp_id
    }

    /// The first app's AppKey (Client ID) and AppSecret.
    pub fn app_credentials(&self) -> (&str, &str) {
        self.apps
            .first()
            .map_or(("", ""), |a| (a.client_id.as_str(), a.client_secret.as_str()))
    }

    /// The first legacy (sns) app's appId and appSecret, if the directory has one.
    pub fn legacy_app_credentials(&self) -> Option<(&str, &str)> {
        self.legacy_apps
            .first()
            .map(|a| (a.app_id.as_str(), a.app_secret.as_str()))
    }

    pub(crate) fn corp_name(&self) -> &str {
        &self.corp_name
    }

    pub(crate) fn app(&self, client_id: &str) -> Option<&App> {
        self.apps.iter().find(|a| a.client_id == client_id)
    }

    pub(crate) fn legacy_app(&self, app_id: &str) -> Option<&LegacyApp> {
        self.legacy_apps.iter().find(|a| a.app_id == app_id)
    }

    pub(crate) fn legacy_signature(&self) -> LegacySignature {
        self.legacy_signature
    }

    /// The app whose credentials match exactly (the secret is case-sensitive).
    pub(crate) fn authenticate_app(&self, client_id: &str, client_secret: &str) -> Option<&App> {
        self.app(client_id).filter(|a| {
            aws_lc_rs::constant_time::verify_slices_are_equal(a.client_secret.as_bytes(), client_secret.as_bytes())
                .is_ok()
        })
    }

    pub(crate) fn department(&self, id: i64) -> Option<&Department> {
        self.departments.iter().find(|d| d.id == id)
    }

    /// Position of a department among its siblings' definitions, used as its `order`.
    pub(crate) fn department_index(&self, id: i64) -> usize {
        self.departments.iter().position(|d| d.id == id).unwrap_or_default()
    }

    /// `id`, its parent, … up to the root department 1.
    pub(crate) fn department_chain(&self, id: i64) -> Vec<i64> {
        let mut chain = Vec::new();
        let mut next = Some(id);
        while let Some(current) = next {
            // Validation rules out cycles; the length bound keeps this total anyway.
            if chain.contains(&current) || chain.len() > self.departments.len() {
                break;
            }
            chain.push(current);
            next = self.department(current).and_then(|d| d.parent_id);
        }
        chain
    }

    pub(crate) fn departments(&self) -> &[Department] {
        &self.departments
    }

    pub(crate) fn members(&self) -> &[Member] {
        &self.members
    }

    pub(crate) fn member_mut(&mut self, userid: &str) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| m.userid == userid)
    }

    pub(crate) fn outsiders(&self) -> &[Outsider] {
        &self.outsiders
    }

    pub(crate) fn member_by_userid(&self, userid: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.userid == userid)
    }

    pub(crate) fn member_by_unionid(&self, unionid: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.unionid == unionid)
    }

    pub(crate) fn person_by_unionid(&self, unionid: &str) -> Option<Person<'_>> {
        self.member_by_unionid(unionid).map(Person::Member).or_else(|| {
            self.outsiders
                .iter()
                .find(|o| o.unionid == unionid)
                .map(Person::Outsider)
        })
    }

    /// Members by userid first, then anyone by unionid (outsiders have only a unionid).
    pub(crate) fn person(&self, key: &str) -> Option<Person<'_>> {
        self.member_by_userid(key)
            .map(Person::Member)
            .or_else(|| self.person_by_unionid(key))
    }

    /// A one-person organisation, used only if the embedded sample were ever broken.
    fn fallback() -> Self {
        Self {
            corp_id: "dingsampleorg".to_owned(),
            corp_name: "示例科技 Example Tech".to_owned(),
            apps: vec![App {
                client_id: "dingsampleappkey".to_owned(),
                client_secret: "sample-app-secret".to_owned(),
                redirect_uris: Vec::new(),
            }],
            departments: vec![Department {
                id: ROOT_DEPT,
                name: "示例科技".to_owned(),
                parent_id: None,
            }],
            members: Vec::new(),
            outsiders: Vec::new(),
            legacy_apps: Vec::new(),
            legacy_signature: LegacySignature::default(),
        }
    }
}

#[cfg(test)]
mod tests;
