//! Consent (OIDC Core §3.1.2.4): a client registered with `consent = "once"` has each person
//! agree on a bilingual page the first time and when it asks for more; `prompt=consent` asks
//! at any client; `prompt=none` gets `consent_required`; the form works only in the browser
//! and session it was shown in.

use reqwest::StatusCode;

use crate::support::app::{WEB_CLIENT, WEB_REDIRECT, WEB_SECRET, new_browser};
use crate::support::forms::inputs;
use crate::support::{TestApp, TestAppOptions};

const WIKI: &str = "wiki";

async fn app() -> TestApp {
    TestApp::spawn_with(TestAppOptions {
        extra_toml: format!(
            "[[clients]]\nclient_id = \"{WIKI}\"\nname = \"知识库 Wiki\"\nredirect_uris = [\"{WEB_REDIRECT}\"]\n\
             scopes = [\"openid\", \"profile\", \"email\"]\nsecret_sha256 = \"{}\"\nconsent = \"once\"\n",
            dingo::crypto::sha256_hex(WEB_SECRET)
        ),
        ..Default::default()
    })
    .await
}

/// The wiki's authorization request for `scope`.
fn wiki_url(app: &TestApp, scope: &str, extra: &str) -> String {
    app.authorize_url_for(WIKI, extra).replace(
        "scope=openid%20profile%20email%20phone%20dingtalk",
        &format!("scope={scope}"),
    )
}

/// Posts the consent form of `html` with `decision` from `browser`: where it sends the browser.
async fn answer(app: &TestApp, browser: &reqwest::Client, html: &str, decision: &str) -> url::Url {
    let mut fields = inputs(html);
    fields.insert("decision".into(), decision.into());
    let response = browser.post(app.url("/consent")).form(&fields).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{:?}", response.text().await);
    let location = response.headers()["location"].to_str().unwrap();
    url::Url::parse(location).unwrap()
}

fn query(url: &url::Url) -> std::collections::HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

#[tokio::test]
async fn a_consent_once_app_asks_each_person_once_and_again_for_more() {
    let app = app().await;
    let browser = new_browser();
    app.sim.set_auto_login(Some("lisi".into()));
    let (status, html) = app
        .follow_with(&browser, &wiki_url(&app, "openid%20profile", ""))
        .await
        .page();
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("「知识库 Wiki」请求访问你的信息") && html.contains("asks for your information"),
        "{html}"
    );
    assert!(
        html.contains("data-scope=\"profile\"")
            && html.contains("姓名和头像")
            && html.contains("Your name and picture")
    );
    assert!(!html.contains("data-scope=\"email\""), "only what is asked for");
    let back = answer(&app, &browser, &html, "agree").await;
    let q = query(&back);
    assert_eq!(q["state"], "st-1");
    let tokens: serde_json::Value = app.redeem_for(WIKI, &q["code"]).await.json().await.unwrap();
    assert!(tokens["id_token"].is_string(), "{tokens}");

    // Agreed: the next login (a new one, in another browser) goes straight to the app.
    app.sim.set_auto_login(Some("lisi".into()));
    let again = app
        .follow_with(&new_browser(), &wiki_url(&app, "openid%20profile", ""))
        .await;
    assert!(again.query().contains_key("code"), "{again:?}");
    // Asking for more asks again, listing everything asked for.
    let (status, html) = app
        .follow_with(&browser, &wiki_url(&app, "openid%20profile%20email", ""))
        .await
        .page();
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("data-scope=\"email\""), "{html}");
    let q = query(&answer(&app, &browser, &html, "agree").await);
    assert!(q.contains_key("code"));
    // Another person has agreed to nothing.
    app.sim.set_auto_login(Some("zhangsan".into()));
    let (status, _) = app
        .follow_with(&new_browser(), &wiki_url(&app, "openid", ""))
        .await
        .page();
    assert_eq!(status, StatusCode::OK, "zhangsan is asked");

    let (ok, audit, _) = app.cli(&["audit", "--kind", "consent"]);
    assert!(ok && audit.contains("granted") && audit.contains(WIKI), "{audit}");
}

#[tokio::test]
async fn prompt_none_gets_consent_required_and_declining_tells_the_app_access_denied() {
    let app = app().await;
    let browser = new_browser();
    // A live session (from another app), but no consent to the wiki.
    app.sim.set_auto_login(Some("lisi".into()));
    assert!(
        app.follow_with(&browser, &app.authorize_url(""))
            .await
            .query()
            .contains_key("code")
    );
    let q = app
        .follow_with(&browser, &wiki_url(&app, "openid", "&prompt=none"))
        .await
        .query();
    assert_eq!(q["error"], "consent_required");
    assert_eq!(q["state"], "st-1");

    let (_, html) = app.follow_with(&browser, &wiki_url(&app, "openid", "")).await.page();
    let q = query(&answer(&app, &browser, &html, "decline").await);
    assert_eq!(q["error"], "access_denied");
    assert!(!q.contains_key("code"));
    // Declined is not agreed: asked again next time.
    let (status, _) = app.follow_with(&browser, &wiki_url(&app, "openid", "")).await.page();
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn prompt_consent_asks_even_at_a_first_party_app() {
    let app = app().await;
    let browser = new_browser();
    app.sim.set_auto_login(Some("lisi".into()));
    assert!(
        app.follow_with(&browser, &app.authorize_url(""))
            .await
            .query()
            .contains_key("code")
    );
    let (status, html) = app
        .follow_with(&browser, &app.authorize_url("&prompt=consent"))
        .await
        .page();
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(
        html.contains("id=\"consent-agree\"") && html.contains("钉钉账号信息"),
        "{html}"
    );
    let q = query(&answer(&app, &browser, &html, "agree").await);
    let tokens: serde_json::Value = app.redeem_for(WEB_CLIENT, &q["code"]).await.json().await.unwrap();
    assert!(tokens["access_token"].is_string(), "{tokens}");

    let discovery: serde_json::Value = app.discovery().await;
    assert!(
        discovery["prompt_values_supported"]
            .as_array()
            .unwrap()
            .contains(&"consent".into())
    );
}

#[tokio::test]
async fn the_consent_form_works_only_in_its_own_browser_and_session_and_once() {
    let app = app().await;
    let browser = new_browser();
    app.sim.set_auto_login(Some("lisi".into()));
    let (_, html) = app.follow_with(&browser, &wiki_url(&app, "openid", "")).await.page();
    let fields = inputs(&html);
    // Another browser can neither see the page nor answer it.
    let other = new_browser();
    let page = other
        .get(format!("{}?state={}", app.url("/consent"), fields["state"]))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    let mut agreed = fields.clone();
    agreed.insert("decision".into(), "agree".into());
    let response = other.post(app.url("/consent")).form(&agreed).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    // A forged form token, or a post from another site, does nothing.
    let mut forged = agreed.clone();
    forged.insert("form_token".into(), "forged".into());
    let response = browser.post(app.url("/consent")).form(&forged).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = browser
        .post(app.url("/consent"))
        .header("sec-fetch-site", "cross-site")
        .form(&agreed)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // The real form still works, once.
    assert!(query(&answer(&app, &browser, &html, "agree").await).contains_key("code"));
    let response = browser.post(app.url("/consent")).form(&agreed).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "used");

    // A consent state is no login state for the DingTalk callback.
    let browser = new_browser();
    app.sim.set_auto_login(Some("zhangsan".into()));
    let (_, html) = app.follow_with(&browser, &wiki_url(&app, "openid", "")).await.page();
    let waiting = inputs(&html)["state"].clone();
    let redeemed = app.sim.call_count("/v1.0/oauth2/userAccessToken");
    let response = browser
        .get(format!(
            "{}?state={waiting}&authCode=x",
            app.url("/login/dingtalk/callback")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        app.sim.call_count("/v1.0/oauth2/userAccessToken"),
        redeemed,
        "no code was redeemed"
    );
}
