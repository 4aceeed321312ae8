use super::*;

const MINIMAL: &str = r#"
corp_id = "dingtest"
corp_name = "Test Corp"

[[apps]]
client_id = "app"
client_secret = "secret"
"#;

fn field_error_of(text: &str) -> (String, String) {
    match Directory::from_toml(text) {
        Err(DirectoryError::Field { path, message }) => (path, message),
        other => panic!("expected a field error, got {other:?}"),
    }
}

#[test]
fn sample_directory_parses_with_the_documented_people() {
    let dir = Directory::from_toml(SAMPLE).expect("the sample parses");
    assert_eq!(dir.corp_id(), "dingsampleorg");
    assert_eq!(dir.app_credentials(), ("dingsampleappkey", "sample-app-secret"));
    assert!(dir.app("dingsampleappkey").unwrap().redirect_uris.is_empty());
    let names: Vec<(i64, &str, Option<i64>)> = dir
        .departments
        .iter()
        .map(|d| (d.id, d.name.as_str(), d.parent_id))
        .collect();
    assert_eq!(
        names,
        [
            (1, "示例科技", None),
            (2, "研发部", Some(1)),
            (3, "财务部", Some(1)),
            (4, "平台组", Some(2)),
            (5, "应收组", Some(3))
        ]
    );
    assert_eq!(dir.department_chain(5), [5, 3, 1]);

    let zhangsan = dir.member_by_userid("zhangsan").unwrap();
    assert_eq!(zhangsan.name, "张三");
    assert_eq!(zhangsan.dept_id_list, [2, 4]);
    assert_eq!(zhangsan.org_email.as_deref(), Some("zhangsan@example.com"));
    assert_eq!(zhangsan.mobile.as_deref(), Some("13800000001"));
    assert_eq!(zhangsan.state_code, "86");
    assert!(zhangsan.admin && zhangsan.active);

    let lisi = dir.member_by_userid("lisi").unwrap();
    assert_eq!(lisi.dept_id_list, [3]);
    assert!(lisi.org_email.is_none() && lisi.email.is_some());

    assert!(!dir.member_by_userid("wangwu").unwrap().active);

    let zhouqi = dir.member_by_userid("zhouqi").unwrap();
    assert_eq!(
        (zhouqi.name.as_str(), zhouqi.dept_id_list.as_slice()),
        ("周七", &[5][..])
    );
    let roles: Vec<&str> = zhouqi.roles.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(roles, ["会计", "出纳"]);
    let roles: std::collections::HashSet<&str> = dir
        .members()
        .iter()
        .flat_map(|m| m.roles.iter().map(|r| r.name.as_str()))
        .collect();
    for role in ["负责人", "主管理员", "会计", "出纳"] {
        assert!(roles.contains(role), "{role} missing from {roles:?}");
    }
    assert!(dir.members().iter().all(|m| m.visible));

    assert_eq!(
        dir.legacy_app_credentials(),
        Some(("dingoa_sample_legacy", "sample-legacy-secret"))
    );
    assert_eq!(dir.legacy_signature(), LegacySignature::Timestamp);

    let zhaoliu = &dir.outsiders()[0];
    assert_eq!(zhaoliu.nick, "赵六");
    assert!(dir.member_by_unionid(&zhaoliu.unionid).is_none());
    assert!(matches!(dir.person(&zhaoliu.unionid), Some(Person::Outsider(_))));
    assert_eq!(Directory::sample().corp_id(), "dingsampleorg");
}

#[test]
fn a_minimal_directory_gets_a_root_department_named_after_the_corp() {
    let dir = Directory::from_toml(MINIMAL).unwrap();
    assert_eq!(dir.department(1).unwrap().name, "Test Corp");
    assert_eq!(dir.department_chain(1), [1]);
}

#[test]
fn a_wrong_type_is_reported_with_its_field_path() {
    let text = format!(
        "{MINIMAL}\n[[users]]\nuserid = \"a\"\nunionid = \"ua\"\nname = \"A\"\n\n\
         [[users]]\nuserid = \"b\"\nunionid = \"ub\"\nname = \"B\"\nadmin = \"yes\"\n"
    );
    let (path, message) = field_error_of(&text);
    assert_eq!(path, "users[1].admin");
    assert!(message.contains("true or false"), "{message}");
}

#[test]
fn a_bad_list_element_is_reported_with_its_index() {
    let text = format!("{MINIMAL}\n[[users]]\nuserid = \"a\"\nunionid = \"ua\"\nname = \"A\"\ndept_id_list = [1, 9]\n");
    let (path, message) = field_error_of(&text);
    assert_eq!(path, "users[0].dept_id_list[1]");
    assert!(message.contains("department 9 does not exist"), "{message}");
    let err = Directory::from_toml(&text).unwrap_err().to_string();
    assert!(err.contains("users[0].dept_id_list[1]"), "{err}");
}

#[test]
fn an_unknown_key_is_refused_with_its_path() {
    let text = format!("{MINIMAL}\n[[users]]\nuserid = \"a\"\nunionid = \"ua\"\nname = \"A\"\nemial = \"x\"\n");
    let (path, message) = field_error_of(&text);
    assert_eq!(path, "users[0].emial");
    assert!(
        message.contains("unknown field") && message.contains("email"),
        "{message}"
    );

    let (path, _) = field_error_of(&format!("corp = 1\n{MINIMAL}"));
    assert_eq!(path, "corp");

    let text = format!(
        "{MINIMAL}\n[[users]]\nuserid = \"a\"\nunionid = \"ua\"\nname = \"A\"\n\
         role_list = [{{ id = 1, name = \"r\", group = \"g\" }}]\n"
    );
    assert_eq!(field_error_of(&text).0, "users[0].role_list[0].group");
}

#[test]
fn a_missing_required_field_is_reported() {
    let (path, message) = field_error_of("corp_name = \"x\"\n[[apps]]\nclient_id = \"a\"\nclient_secret = \"s\"\n");
    assert_eq!((path.as_str(), message.as_str()), ("corp_id", "is required"));
    let (path, _) = field_error_of(&format!("{MINIMAL}\n[[outsiders]]\nunionid = \"u\"\n"));
    assert_eq!(path, "outsiders[0].nick");
}

#[test]
fn a_directory_without_apps_is_refused() {
    let (path, _) = field_error_of("corp_id = \"dingx\"\ncorp_name = \"x\"\n");
    assert_eq!(path, "apps");
}

#[test]
fn a_unionid_shared_by_a_member_and_an_outsider_is_refused() {
    let text = format!(
        "{MINIMAL}\n[[users]]\nuserid = \"a\"\nunionid = \"same\"\nname = \"A\"\n\
         [[outsiders]]\nunionid = \"same\"\nnick = \"O\"\n"
    );
    assert_eq!(field_error_of(&text).0, "outsiders[0].unionid");
}

#[test]
fn department_cycles_and_dangling_parents_are_refused() {
    let cycle = format!(
        "{MINIMAL}\n[[departments]]\ndept_id = 2\nname = \"x\"\nparent_id = 3\n\
         [[departments]]\ndept_id = 3\nname = \"y\"\nparent_id = 2\n"
    );
    let (path, message) = field_error_of(&cycle);
    assert!(
        path.ends_with(".parent_id") && message.contains("cycle"),
        "{path}: {message}"
    );

    let dangling = format!("{MINIMAL}\n[[departments]]\ndept_id = 2\nname = \"x\"\nparent_id = 7\n");
    let (path, _) = field_error_of(&dangling);
    assert_eq!(path, "departments[1].parent_id");
}

#[test]
fn unknown_manager_and_bad_redirect_uri_are_refused() {
    let text =
        format!("{MINIMAL}\n[[users]]\nuserid = \"a\"\nunionid = \"ua\"\nname = \"A\"\nmanager_userid = \"ghost\"\n");
    assert_eq!(field_error_of(&text).0, "users[0].manager_userid");

    let text = MINIMAL.replace(
        "client_secret = \"secret\"",
        "client_secret = \"secret\"\nredirect_uris = [\"https://ok.example/cb\", \"/relative\"]",
    );
    assert_eq!(field_error_of(&text).0, "apps[0].redirect_uris[1]");
}

#[test]
fn legacy_apps_and_their_signature_mode_are_read() {
    let text = format!(
        "legacy_signature = \"timestamp_newline_secret\"\n{MINIMAL}\n\
         [[legacy_apps]]\napp_id = \"old\"\napp_secret = \"old-secret\"\n\
         redirect_uris = [\"https://rp.example/cb\"]\n"
    );
    let dir = Directory::from_toml(&text).unwrap();
    assert_eq!(dir.legacy_signature(), LegacySignature::TimestampNewlineSecret);
    let app = dir.legacy_app("old").unwrap();
    assert_eq!(app.redirect_uris, ["https://rp.example/cb"]);
    assert!(!format!("{dir:?}").contains("old-secret"));
    assert!(
        Directory::from_toml(MINIMAL)
            .unwrap()
            .legacy_app_credentials()
            .is_none()
    );
}

#[test]
fn bad_legacy_apps_and_signature_modes_are_refused_with_their_paths() {
    let app = "[[legacy_apps]]\napp_id = \"old\"\napp_secret = \"s\"\n";
    let (path, message) = field_error_of(&format!("{MINIMAL}\n{app}{app}"));
    assert_eq!(path, "legacy_apps[1].app_id");
    assert!(message.contains("duplicate"), "{message}");

    let no_secret = format!("{MINIMAL}\n[[legacy_apps]]\napp_id = \"old\"\n");
    assert_eq!(field_error_of(&no_secret).0, "legacy_apps[0].app_secret");

    let bad_uri = format!("{MINIMAL}\n{app}redirect_uris = [\"ftp://x\"]\n");
    assert_eq!(field_error_of(&bad_uri).0, "legacy_apps[0].redirect_uris[0]");

    let unknown = format!("{MINIMAL}\n{app}appsecret = \"x\"\n");
    assert_eq!(field_error_of(&unknown).0, "legacy_apps[0].appsecret");

    let (path, message) = field_error_of(&format!("legacy_signature = \"hmac\"\n{MINIMAL}"));
    assert_eq!(path, "legacy_signature");
    assert!(message.contains("timestamp_newline_secret"), "{message}");
}

#[test]
fn visible_must_be_a_boolean() {
    let text = format!("{MINIMAL}\n[[users]]\nuserid = \"a\"\nunionid = \"ua\"\nname = \"A\"\nvisible = \"no\"\n");
    assert_eq!(field_error_of(&text).0, "users[0].visible");
    let text = text.replace("\"no\"", "false");
    let dir = Directory::from_toml(&text).unwrap();
    assert!(!dir.member_by_userid("a").unwrap().visible);
}

#[test]
fn toml_syntax_errors_are_reported_as_such() {
    assert!(matches!(
        Directory::from_toml("corp_id = "),
        Err(DirectoryError::Syntax(_))
    ));
}

#[test]
fn load_reads_a_file_and_reports_a_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("org.toml");
    std::fs::write(&path, MINIMAL).unwrap();
    assert_eq!(Directory::load(&path).unwrap().corp_id(), "dingtest");
    let missing = dir.path().join("absent.toml");
    assert!(matches!(Directory::load(&missing), Err(DirectoryError::Io { .. })));
}

#[test]
fn debug_output_hides_app_secrets() {
    let dir = Directory::from_toml(MINIMAL).unwrap();
    let debug = format!("{dir:?}");
    assert!(!debug.contains("\"secret\""), "{debug}");
}
