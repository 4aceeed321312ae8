//! Decoding of the real bodies in DINGTALK-API.md Appendix A.

use super::envelope::{Failure, parse_api, parse_oapi};
use super::models::*;

#[test]
fn app_token_success_and_bad_credentials() {
    let ok: AppAccessToken = parse_api(
        200,
        br#"{"accessToken":"fw8ef8we8f76e6f7s8dxxxx","expireIn":7200}"#,
    )
    .unwrap();
    assert_eq!(
        (ok.access_token.as_str(), ok.expire_in),
        ("fw8ef8we8f76e6f7s8dxxxx", 7200)
    );
    let err = parse_api::<AppAccessToken>(
        400,
        r#"{"requestid":"1","code":"invalidClientIdOrSecret","message":"无效的clientId或者clientSecret"}"#.as_bytes(),
    )
    .unwrap_err();
    assert!(
        matches!(err, Failure::Api { status: 400, ref code, .. } if code == "invalidClientIdOrSecret")
    );
}

#[test]
fn user_access_token_with_and_without_corp_id() {
    let with: UserAccessToken = parse_api(
        200,
        br#"{"accessToken":"abcd","refreshToken":"abcd","expireIn":7200,"corpId":"dingcorp"}"#,
    )
    .unwrap();
    assert_eq!(with.corp_id.as_deref(), Some("dingcorp"));
    let without: UserAccessToken = parse_api(
        200,
        br#"{"expireIn":7200,"accessToken":"abcd","refreshToken":"efgh"}"#,
    )
    .unwrap();
    assert_eq!(
        (without.access_token.as_str(), without.corp_id),
        ("abcd", None)
    );
    let used = parse_api::<UserAccessToken>(
        400,
        r#"{"requestid":"F340FF76","code":"invalidParameter.authCode.notFound","message":"不合法的临时授权码"}"#.as_bytes(),
    )
    .unwrap_err();
    assert!(
        matches!(used, Failure::Api { ref code, .. } if code == "invalidParameter.authCode.notFound")
    );
}

#[test]
fn users_me_with_missing_optional_fields() {
    let me: Me = parse_api(
        200,
        r#"{"nick":"张三","unionId":"N","openId":"O","mobile":"18900000000","stateCode":"86","visitor":false}"#.as_bytes(),
    )
    .unwrap();
    assert_eq!(
        (me.union_id.as_str(), me.avatar_url, me.email),
        ("N", None, None)
    );
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
    let err =
        parse_oapi::<OapiResult<ByUnionId>>(br#"{"errcode":"60121","errmsg":"x"}"#).unwrap_err();
    assert!(matches!(err, Failure::Oapi { code: 60121, .. }));
    let ok: OapiResult<ByUnionId> =
        parse_oapi(br#"{"errcode":"0","result":{"userid":"u"}}"#).unwrap();
    assert_eq!(ok.result.userid, "u");
}

#[test]
fn gettoken_bad_credentials_is_not_wrapped() {
    let err = parse_oapi::<serde_json::Value>(
        r#"{"errcode":40096,"errmsg":"不合法的appKey或appSecret"}"#.as_bytes(),
    )
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
    )
    .unwrap();
    let (oauth2, qr, in_client) = client.test_login_urls();
    let query = |u: &str| -> std::collections::HashMap<String, String> {
        url::Url::parse(u)
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect()
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

    assert!(
        qr.starts_with("http://127.0.0.1:9/oapi/connect/qrconnect?"),
        "{qr}"
    );
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
