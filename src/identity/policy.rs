//! Organisation policy: who may log in, beyond having a DingTalk account.

use super::Identity;
use crate::config::PolicySettings;

/// Why a person may not log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not a member of the organisation.
    NotMember,
    /// A member the DingTalk app may not see (outside its contacts visible range).
    NotVisible,
    /// A member who has not activated DingTalk, or has been disabled.
    Inactive,
    /// Not in an allowed department, or in a denied one.
    Department,
    /// A department rule applies, and the departments it depends on could not be read.
    DepartmentsUnreadable,
    /// Without an allowed role, or with a denied one.
    Role,
    /// The app is for administrators only.
    AdminsOnly,
    /// An administrator of dingo disabled this person.
    Disabled,
}

impl Refusal {
    /// The `outcome` label of the login metric.
    pub fn metric_label(self) -> &'static str {
        match self {
            Self::NotMember => "refused_not_member",
            Self::NotVisible => "refused_not_visible",
            Self::Inactive => "refused_inactive",
            Self::Department | Self::DepartmentsUnreadable | Self::Role | Self::AdminsOnly => "refused_policy",
            Self::Disabled => "refused_disabled",
        }
    }

    /// A short English reason, for `error_description` and logs.
    pub fn describe(self) -> &'static str {
        match self {
            Self::NotMember => "the DingTalk account is not a member of this organisation",
            Self::NotVisible => "the member is outside the DingTalk app's visible range",
            Self::Inactive => "the member's DingTalk account is not active",
            Self::Department => "the member's department may not use this application",
            Self::DepartmentsUnreadable => {
                "the member's departments could not all be read from DingTalk (department permission or contact scope), so the department rule cannot be checked"
            }
            Self::Role => "the member's role may not use this application",
            Self::AdminsOnly => "this application is for administrators only",
            Self::Disabled => "the account has been disabled by an administrator",
        }
    }
}

/// A policy to check identities against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy(PolicySettings);

impl Policy {
    pub fn new(settings: PolicySettings) -> Self {
        Self(settings)
    }

    /// Whether `person` may log in. Departments match with all their sub-departments.
    pub fn check(&self, person: &Identity) -> Result<(), Refusal> {
        let p = &self.0;
        if !person.active {
            return Err(Refusal::Inactive);
        }
        let in_any = |ids: &[i64]| {
            person
                .departments
                .iter()
                .any(|d| d.lineage.iter().any(|id| ids.contains(id)))
        };
        let allowed = p.allow_departments.is_empty() || in_any(&p.allow_departments);
        if in_any(&p.deny_departments) {
            return Err(Refusal::Department);
        }
        if person.departments_partial {
            // What could not be read might be a denied department, or the allowed one: fail
            // closed, unless only an allow-list applies and a department read satisfies it.
            if !p.deny_departments.is_empty() || !allowed {
                return Err(Refusal::DepartmentsUnreadable);
            }
        } else if !allowed {
            return Err(Refusal::Department);
        }
        let holds_any = |roles: &[String]| person.roles.iter().any(|r| roles.contains(r));
        if holds_any(&p.deny_roles) || (!p.allow_roles.is_empty() && !holds_any(&p.allow_roles)) {
            return Err(Refusal::Role);
        }
        if p.admins_only && !(person.admin || person.boss) {
            return Err(Refusal::AdminsOnly);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Department;

    fn person(departments: &[&[i64]], roles: &[&str]) -> Identity {
        Identity {
            userid: "u".into(),
            unionid: "n".into(),
            corp_id: "c".into(),
            name: "x".into(),
            avatar: None,
            mobile: None,
            state_code: None,
            org_email: None,
            email: None,
            job_number: None,
            title: None,
            dept_ids: departments.iter().filter_map(|l| l.last().copied()).collect(),
            departments_partial: false,
            departments: departments
                .iter()
                .map(|lineage| Department {
                    id: *lineage.last().unwrap(),
                    name: String::new(),
                    lineage: lineage.to_vec(),
                    path: String::new(),
                })
                .collect(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            active: true,
            admin: false,
            boss: false,
        }
    }

    #[test]
    fn department_rules_fail_closed_on_departments_that_could_not_be_read() {
        let partial = |lineages: &[&[i64]]| Identity {
            departments_partial: true,
            ..person(lineages, &[])
        };
        // 财务部 (3) was read: the allow-list is satisfied whatever else could not be.
        let finance = policy(|p| p.allow_departments = vec![3]);
        assert_eq!(finance.check(&partial(&[&[3]])), Ok(()));
        // Not in 3 as far as can be read: perhaps in what could not be.
        assert_eq!(finance.check(&partial(&[&[4]])), Err(Refusal::DepartmentsUnreadable));
        assert_eq!(finance.check(&partial(&[])), Err(Refusal::DepartmentsUnreadable));
        // A deny-list cannot be cleared without every department.
        let deny = policy(|p| p.deny_departments = vec![4]);
        assert_eq!(deny.check(&partial(&[&[3]])), Err(Refusal::DepartmentsUnreadable));
        assert_eq!(deny.check(&partial(&[&[2, 4]])), Err(Refusal::Department));
        // Without department rules, what could be read is enough.
        assert_eq!(Policy::default().check(&partial(&[])), Ok(()));
    }

    fn policy(f: impl FnOnce(&mut PolicySettings)) -> Policy {
        let mut settings = PolicySettings::default();
        f(&mut settings);
        Policy::new(settings)
    }

    #[test]
    fn the_default_policy_admits_every_active_member() {
        assert_eq!(Policy::default().check(&person(&[&[1, 2]], &[])), Ok(()));
        let mut inactive = person(&[&[1, 2]], &[]);
        inactive.active = false;
        assert_eq!(Policy::default().check(&inactive), Err(Refusal::Inactive));
    }

    #[test]
    fn an_allowed_department_includes_its_sub_departments() {
        let finance = policy(|p| p.allow_departments = vec![3]);
        assert_eq!(finance.check(&person(&[&[1, 3]], &[])), Ok(()));
        assert_eq!(finance.check(&person(&[&[1, 3, 5]], &[])), Ok(()));
        assert_eq!(finance.check(&person(&[&[1, 2, 4]], &[])), Err(Refusal::Department));
        // One allowed department among several is enough.
        assert_eq!(finance.check(&person(&[&[1, 2], &[1, 3]], &[])), Ok(()));
    }

    #[test]
    fn a_denied_department_wins_over_an_allowed_one() {
        let p = policy(|p| {
            p.allow_departments = vec![1];
            p.deny_departments = vec![4];
        });
        assert_eq!(p.check(&person(&[&[1, 2]], &[])), Ok(()));
        assert_eq!(p.check(&person(&[&[1, 2, 4]], &[])), Err(Refusal::Department));
    }

    #[test]
    fn roles_are_allowed_and_denied_by_name() {
        let p = policy(|p| p.allow_roles = vec!["财务".into()]);
        assert_eq!(p.check(&person(&[&[1]], &["财务"])), Ok(()));
        assert_eq!(p.check(&person(&[&[1]], &["研发"])), Err(Refusal::Role));
        let deny = policy(|p| p.deny_roles = vec!["外包".into()]);
        assert_eq!(deny.check(&person(&[&[1]], &["研发", "外包"])), Err(Refusal::Role));
    }

    #[test]
    fn admins_only_admits_administrators_and_the_boss() {
        let p = policy(|p| p.admins_only = true);
        let mut someone = person(&[&[1]], &[]);
        assert_eq!(p.check(&someone), Err(Refusal::AdminsOnly));
        someone.admin = true;
        assert_eq!(p.check(&someone), Ok(()));
        someone.admin = false;
        someone.boss = true;
        assert_eq!(p.check(&someone), Ok(()));
    }
}
