//! Decoding of the real bodies in DINGTALK-API.md Appendix A.

use super::envelope::{Failure, parse_api, parse_oapi};
use super::models::*;

#[test]
fn app_token_success_and_bad_credentials() {
    let ok: AppAccessToken = parse_api(200, br#"{"accessToken":"fw8ef8we8f76e6f7s8dxxxx","expireIn":7200}"#).unwrap();
    assert_eq!(
        (ok.access_token.expose(), ok.expire_in),
        ("fw8ef8we8f76e6f7s8dxxxx", 7200)
    );
    let err = parse_api::<AppAccessToken>(
        400,
        r#"{"requestid":"1","code":"invalidClientIdOrSecret","message":"无效的clientId或者clientSecret"}"#.as_bytes(),
    )
    .unwrap_err();
    assert!(matches!(err, Failure::Api { status: 400, ref code, .. } if code == "invalidClientIdOrSecret"));
}

#[test]
fn user_access_token_with_and_without_corp_id() {
    let with: UserAccessToken = parse_api(
        200,
        br#"{"accessToken":"abcd","refreshToken":"abcd","expireIn":7200,"corpId":"dingcorp"}"#,
    )
    .unwrap();
    assert_eq!(with.corp_id.as_deref(), Some("dingcorp"));
    let without: UserAccessToken =
        parse_api(200, br#"{"expireIn":7200,"accessToken":"abcd","refreshToken":"efgh"}"#).unwrap();
    assert_eq!((without.access_token.expose(), without.corp_id), ("abcd", None));
    let used = parse_api::<UserAccessToken>(
        400,
        r#"{"requestid":"F340FF76","code":"invalidParameter.authCode.notFound","message":"不合法的临时授权码"}"#
            .as_bytes(),
    )
    .unwrap_err();
    assert!(matches!(used, Failure::Api { ref code, .. } if code == "invalidParameter.authCode.notFound"));
}

#[test]
fn users_me_with_missing_optional_fields() {
    let me: Me = parse_api(
        200,
        r#"{"nick":"张三","unionId":"N","openId":"O","mobile":"18900000000","stateCode":"86","visitor":false}"#
            .as_bytes(),
    )
    .unwrap();
    assert_eq!((me.union_id.as_str(), me.avatar_url, me.email), ("N", None, None));
    let denied = parse_api::<Me>(
        403,
        r#"{"code":"Forbidden.AccessDenied.AccessTokenPermissionDenied","requestid":"e64a","message":"没有调用该接口的权限","accessdenieddetail":{"requiredScopes":["Contact.User.Read"]}}"#.as_bytes(),
    )
    .unwrap_err();
    assert!(matches!(denied, Failure::Api { status: 403, .. }));
}

#[test]
fn getbyunionid_success_and_not_a_member() {
    let found: OapiResult<ByUnionId> = parse_oapi(
        br#"{"errcode":0,"errmsg":"ok","result":{"contact_type":0,"userid":"zhangsan"},"request_id":"zcqi5450rpit"}"#,
    )
    .unwrap();
    assert_eq!(
        (found.result.userid.as_str(), found.result.contact_type),
        ("zhangsan", 0)
    );
    let missing = parse_oapi::<OapiResult<ByUnionId>>(
        r#"{"errcode":60121,"errmsg":"找不到该用户","request_id":"wgdz"}"#.as_bytes(),
    )
    .unwrap_err();
    assert_eq!(
        missing,
        Failure::Oapi {
            code: 60121,
            message: "找不到该用户".into()
        }
    );
}

#[test]
fn user_get_real_minimal_example_with_a_64_bit_order() {
    let body = r#"{"errcode":0,"errmsg":"ok","result":{"active":true,"admin":true,"avatar":"","boss":true,"dept_id_list":[1],"dept_order_list":[{"dept_id":1,"order":176220178909140512}],"exclusive_account":false,"hide_mobile":false,"leader_in_dept":[{"dept_id":1,"leader":false}],"mobile":"19942422224","name":"金华","real_authed":true,"role_list":[{"group_name":"默认","id":3935025514,"name":"主管理员"}],"senior":false,"state_code":"86","unionid":"vQR2","userid":"18293148161178525"},"request_id":"16lzmj9nqoklx"}"#;
    let detail: OapiResult<UserDetail> = parse_oapi(body.as_bytes()).unwrap();
    let d = detail.result;
    assert_eq!(
        (d.userid.as_str(), d.name.as_str(), d.dept_id_list),
        ("18293148161178525", "金华", vec![1])
    );
    assert!(d.active && d.admin && d.boss);
    assert_eq!(d.mobile.as_deref(), Some("19942422224"));
}

#[test]
fn errcode_88_carries_the_reason_in_sub_code() {
    let body = r#"{"errcode":88,"sub_code":"40014","sub_msg":"不合法的access_token","errmsg":"ding talk error[subcode=40014,submsg=不合法的access_token]","request_id":"h4j6"}"#;
    let err = parse_oapi::<OapiResult<ByUnionId>>(body.as_bytes()).unwrap_err();
    assert_eq!(
        err,
        Failure::Oapi {
            code: 40014,
            message: "不合法的access_token".into()
        }
    );
}

#[test]
fn a_string_errcode_is_tolerated() {
    let err = parse_oapi::<OapiResult<ByUnionId>>(br#"{"errcode":"60121","errmsg":"x"}"#).unwrap_err();
    assert!(matches!(err, Failure::Oapi { code: 60121, .. }));
    let ok: OapiResult<ByUnionId> = parse_oapi(br#"{"errcode":"0","result":{"userid":"u"}}"#).unwrap();
    assert_eq!(ok.result.userid, "u");
}

#[test]
fn gettoken_bad_credentials_is_not_wrapped() {
    let err = parse_oapi::<serde_json::Value>(r#"{"errcode":40096,"errmsg":"不合法的appKey或appSecret"}"#.as_bytes())
        .unwrap_err();
    assert!(matches!(err, Failure::Oapi { code: 40096, .. }));
}

#[test]
fn malformed_bodies_are_reported_not_panicked_on() {
    assert!(matches!(
        parse_oapi::<OapiResult<ByUnionId>>(b"<html>busy</html>"),
        Err(Failure::Malformed(_))
    ));
    assert!(matches!(
        parse_api::<Me>(200, b"{\"nick\":1}"),
        Err(Failure::Malformed(_))
    ));
    // serde would read a struct from an array; DingTalk never answers with one.
    assert!(matches!(
        parse_api::<super::models::AppAccessToken>(200, br#"["",0]"#),
        Err(Failure::Malformed(_))
    ));
    assert!(matches!(
        parse_oapi::<OapiResult<ByUnionId>>(br#"[0,"ok",{"userid":"u"}]"#),
        Err(Failure::Malformed(_))
    ));
}

#[test]
fn login_urls_carry_every_required_parameter() {
    let settings = crate::config::DingTalkSettings {
        client_id: "dingkey".into(),
        login_base_url: "http://127.0.0.1:9/sim".into(),
        oapi_base_url: "http://127.0.0.1:9/oapi".into(),
        legacy_app_id: "dingoa_legacy".into(),
        ..Default::default()
    };
    let client = super::DingTalk::new(
        &settings,
        600,
        std::sync::Arc::new(crate::clock::SystemClock),
        std::sync::Arc::default(),
    )
    .unwrap();
    let (oauth2, qr, in_client) = client.test_login_urls();
    let query = |u: &str| -> std::collections::HashMap<String, String> {
        url::Url::parse(u).unwrap().query_pairs().into_owned().collect()
    };

    let url = url::Url::parse(&oauth2).unwrap();
    assert_eq!(url.path(), "/sim/oauth2/auth");
    let q = query(&oauth2);
    assert_eq!(q["redirect_uri"], "https://sso.example.com/cb");
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], "dingkey");
    assert_eq!(q["scope"], "openid");
    assert_eq!(q["state"], "st");
    assert_eq!(q["prompt"], "consent");

    assert!(qr.starts_with("http://127.0.0.1:9/oapi/connect/qrconnect?"), "{qr}");
    let q = query(&qr);
    assert_eq!(
        (q["appid"].as_str(), q["scope"].as_str()),
        ("dingoa_legacy", "snsapi_login")
    );
    assert_eq!(
        (q["redirect_uri"].as_str(), q["state"].as_str()),
        ("https://sso.example.com/cb", "st")
    );
    assert!(
        in_client.starts_with("http://127.0.0.1:9/oapi/connect/oauth2/sns_authorize?"),
        "{in_client}"
    );
    assert_eq!(query(&in_client)["scope"], "snsapi_auth");
}

#[test]
fn in_app_getuserinfo_success_and_unknown_code() {
    let body = r#"{"errcode":0,"errmsg":"ok","request_id":"e8krly4vyiln","result":{"userid":"userid123","unionid":"gliiW0piiii02zBUjUxxxx","associated_unionid":"N2o5U3axxxx","device_id":"12drtfxxxxx","sys":true,"sys_level":1,"name":"张xx"}}"#;
    let user: OapiResult<InAppUser> = parse_oapi(body.as_bytes()).unwrap();
    assert_eq!(user.result.userid, "userid123");
    let unknown = parse_oapi::<OapiResult<InAppUser>>(
        r#"{"errcode":40078,"errmsg":"不存在的临时授权码","request_id":"R"}"#.as_bytes(),
    )
    .unwrap_err();
    assert!(matches!(unknown, Failure::Oapi { code: 40078, .. }));
}

#[test]
fn sns_getuserinfo_bycode_success_and_signature_error() {
    let body = r#"{"errcode":0,"errmsg":"ok","user_info":{"nick":"名字","unionid":"N","openid":"O","main_org_auth_high_level":false}}"#;
    let info: SnsUserInfo = parse_oapi(body.as_bytes()).unwrap();
    assert_eq!(info.user_info.unionid, "N");
    let real = r#"{"errcode":0,"errmsg":"ok","user_info":{"nick":"n","unionid":"U","dingId":"$:LWCP_v1:$abc","openid":"O","main_org_auth_high_level":true}}"#;
    assert_eq!(
        parse_oapi::<SnsUserInfo>(real.as_bytes()).unwrap().user_info.unionid,
        "U"
    );
    let bad = parse_oapi::<SnsUserInfo>(br#"{"errcode":853004,"errmsg":"signature mismatch"}"#).unwrap_err();
    assert!(matches!(bad, Failure::Oapi { code: 853004, .. }));
}

#[test]
fn department_get_success_root_and_not_found() {
    let body = r#"{"errcode":0,"errmsg":"ok","result":{"auto_add_user":true,"brief":"","create_dept_group":true,"dept_group_chat_id":"chat3b","dept_id":376,"dept_manager_userid_list":["0761"],"dept_permits":[],"group_contain_sub_dept":false,"hide_dept":false,"name":"****部","order":12,"org_dept_owner":"0","outer_dept":false,"outer_permit_depts":[],"outer_permit_users":[],"parent_id":1,"user_permits":[]},"request_id":"ijm"}"#;
    let dept: OapiResult<DepartmentDetail> = parse_oapi(body.as_bytes()).unwrap();
    assert_eq!((dept.result.dept_id, dept.result.parent_id), (376, Some(1)));
    let root: OapiResult<DepartmentDetail> = parse_oapi(
        r#"{"errcode":0,"errmsg":"ok","result":{"dept_id":1,"name":"示例科技","order":0},"request_id":"R"}"#.as_bytes(),
    )
    .unwrap();
    assert_eq!(root.result.parent_id, None);
    let missing =
        parse_oapi::<OapiResult<DepartmentDetail>>(br#"{"errcode":60003,"errmsg":"x","request_id":"R"}"#).unwrap_err();
    assert!(matches!(missing, Failure::Oapi { code: 60003, .. }));
}

/// Bodies of Appendix A that dingo does not read field by field still go through the envelope.
#[test]
fn the_remaining_appendix_a_bodies_pass_through_their_envelopes() {
    use serde_json::Value;
    let oapi_ok = [
        r#"{"errcode":0,"access_token":"96fc7a7axxx","errmsg":"ok","expires_in":7200}"#,
        r#"{"errcode":0,"errmsg":"ok","userid":"user456","name":"张xx","deviceId":"12drtfxxxxx","is_sys":true,"sys_level":1}"#,
        r#"{"errcode":0,"errmsg":"ok","contactType":0,"userid":"1"}"#,
        r#"{"errcode":0,"errmsg":"ok","result":{"parent_list":[{"parent_dept_id_list":[37,1]}]},"request_id":"R"}"#,
    ];
    for body in oapi_ok {
        assert!(parse_oapi::<Value>(body.as_bytes()).is_ok(), "{body}");
    }
    let api_ok = [
        r#"{"access_token":"2bf","expires_in":7200}"#,
        r#"{"accessToken":"t","expireIn":7200}"#,
    ];
    for body in api_ok {
        assert!(parse_api::<Value>(200, body.as_bytes()).is_ok(), "{body}");
    }
    let invalid_auth = parse_api::<Me>(
        400,
        r#"{"code":"InvalidAuthentication","message":"不合法的access_token","requestid":"r"}"#.as_bytes(),
    )
    .unwrap_err();
    assert!(matches!(invalid_auth, Failure::Api { status: 400, ref code, .. } if code == "InvalidAuthentication"));
}

#[test]
fn stale_tokens_outages_and_throttling_are_told_apart_in_both_families() {
    use super::CallError;
    let oapi = |code: i64| {
        CallError::Failed(Failure::Oapi {
            code,
            message: String::new(),
        })
    };
    let api = |status: u16, code: &str| {
        CallError::Failed(Failure::Api {
            status,
            code: code.into(),
            message: String::new(),
        })
    };
    for stale in [
        oapi(40014),
        oapi(42001),
        oapi(40001),
        oapi(33001),
        api(400, "InvalidAuthentication"),
    ] {
        assert!(stale.is_stale_app_token(), "{stale:?}");
        assert!(!stale.is_retryable(), "{stale:?}");
    }
    for outage in [
        oapi(-1),
        oapi(15),
        oapi(88),
        CallError::Unavailable("HTTP 502".into()),
        CallError::Failed(Failure::Malformed("eof".into())),
    ] {
        assert!(outage.is_outage() && outage.is_retryable(), "{outage:?}");
    }
    for throttled in [
        oapi(90018),
        oapi(90002),
        api(403, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"),
        api(403, "Forbidden.AccessDenied.QpsLimitForApi"),
    ] {
        assert!(throttled.is_retryable() && !throttled.is_outage(), "{throttled:?}");
    }
    for answer in [
        oapi(60121),
        oapi(40078),
        api(400, "invalidParameter.authCode.notFound"),
        api(403, "Forbidden.AccessDenied.AccessTokenPermissionDenied"),
    ] {
        assert!(
            !answer.is_retryable() && !answer.is_outage() && !answer.is_stale_app_token(),
            "{answer:?}"
        );
    }
}
