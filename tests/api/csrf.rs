//! Cross-site request forgery. dingo serves two forms: the in-app login form (its `state` is
//! single-use and bound to the browser that opened the page) and the logout confirmation (its
//! token is derived from the session cookie). Both cookies are `SameSite=Lax`, and posts that the
//! browser says come from another site (`Sec-Fetch-Site`, else a named `Origin`) are refused
//! (in-app) or not taken as a confirmation (logout). dingo's pages are served with
//! `Referrer-Policy: no-referrer`, so browsers send `Origin: null` with their own form posts.
//! `POST /authorize` is a protocol endpoint apps post to from their own sites, not a dingo form.

use crate::support::TestApp;
use crate::support::app::{WEB_CLIENT, new_browser};
use crate::support::forms::{InAppPage, confirmation_token, inputs};

const EVIL: &str = "https://evil.example";

/// What a browser sends with a form posted from dingo's own page.
const OWN_PAGE: &[(&str, &str)] = &[("sec-fetch-site", "same-origin"), ("origin", "null")];

/// What browsers send with forms posted from other sites: current ones, a sibling site (which
/// `SameSite=Lax` does not stop), a sandboxed frame, and browsers without `Sec-Fetch-Site`.
const OTHER_SITES: &[&[(&str, &str)]] = &[
    &[("sec-fetch-site", "cross-site"), ("origin", EVIL)],
    &[
        ("sec-fetch-site", "same-site"),
        ("origin", "https://app.127.0.0.1.example"),
    ],
    &[("sec-fetch-site", "cross-site"), ("origin", "null")],
    &[("origin", EVIL)],
];

/// A browser with a dingo session for zhangsan.
async fn logged_in(app: &TestApp) -> reqwest::Client {
    let browser = new_browser();
    app.sim.set_auto_login(Some("zhangsan".into()));
    let q = app.follow_with(&browser, &app.authorize_url("")).await.query();
    assert!(q.contains_key("code"));
    browser
}

async fn still_logged_in(app: &TestApp, browser: &reqwest::Client) -> bool {
    app.follow_with(browser, &app.authorize_url("&prompt=none"))
        .await
        .query()
        .contains_key("code")
}

/// The logout confirmation page's HTML, for `browser`.
async fn confirmation_page(app: &TestApp, browser: &reqwest::Client) -> String {
    let page = browser
        .get(app.url(&format!("/logout?client_id={WEB_CLIENT}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    page.text().await.unwrap()
}

async fn confirm(app: &TestApp, browser: &reqwest::Client, token: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = browser.post(app.url("/logout")).form(&[("confirmation", token)]);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn each_form_posts_to_dingo_itself_with_its_token() {
    let app = TestApp::spawn().await;
    let browser = logged_in(&app).await;
    let logout = confirmation_page(&app, &browser).await;
    assert!(logout.contains(&format!("method=\"post\" action=\"{}/logout\"", app.address)));
    assert_eq!(confirmation_token(&logout).len(), 43);
    let in_app = InAppPage::open(&app).await;
    assert!(in_app.html.contains(&format!(
        "method=\"post\" action=\"{}/login/dingtalk/inapp\"",
        app.address
    )));
    assert_eq!(inputs(&in_app.html)["state"].len(), 43);
}

#[tokio::test]
async fn a_logout_confirmation_token_of_another_session_does_not_log_out() {
    let app = TestApp::spawn().await;
    let victim = logged_in(&app).await;
    let attacker = logged_in(&app).await;
    let attackers_token = confirmation_token(&confirmation_page(&app, &attacker).await);
    let forged = confirm(&app, &victim, &attackers_token, OWN_PAGE).await;
    assert_eq!(forged.status(), 200);
    let html = forged.text().await.unwrap();
    assert!(html.contains("confirm-logout"), "asked again: {html}");
    assert!(still_logged_in(&app, &victim).await);
    assert!(still_logged_in(&app, &attacker).await);
}

#[tokio::test]
async fn a_logout_confirmation_posted_from_another_site_is_not_taken() {
    let app = TestApp::spawn().await;
    let browser = logged_in(&app).await;
    let token = confirmation_token(&confirmation_page(&app, &browser).await);
    for headers in OTHER_SITES {
        let forged = confirm(&app, &browser, &token, headers).await;
        assert_eq!(forged.status(), 200);
        assert!(forged.text().await.unwrap().contains("confirm-logout"), "{headers:?}");
        assert!(still_logged_in(&app, &browser).await, "{headers:?}");
    }
    // From dingo's own page it works.
    let done = confirm(&app, &browser, &token, OWN_PAGE).await;
    assert!(done.text().await.unwrap().contains("已退出登录"));
    assert!(!still_logged_in(&app, &browser).await);
}

#[tokio::test]
async fn an_in_app_login_posted_from_another_site_is_refused_and_the_login_survives() {
    let app = TestApp::spawn().await;
    app.sim.set_inapp_user(Some("zhangsan".into()));
    let page = InAppPage::open(&app).await;
    let code = page.code(&app).await;
    let forged = page.post(&app, &page.browser, &code, &[("origin", EVIL)]).await;
    assert_eq!(forged.status(), 403);
    assert!(forged.headers().get("location").is_none());
    let html = forged.text().await.unwrap();
    assert!(
        html.contains("请求被拒绝") && html.contains("another website"),
        "{html}"
    );
    // The refused post used up nothing: the page's own post completes the login.
    let genuine = page
        .post(&app, &page.browser, &code, &[("origin", app.address.as_str())])
        .await;
    assert_eq!(genuine.status(), 303);
    assert!(genuine.headers()["location"].to_str().unwrap().contains("code="));
}

#[tokio::test]
async fn an_in_app_login_state_posted_from_another_browser_is_refused() {
    let app = TestApp::spawn().await;
    app.sim.set_inapp_user(Some("zhangsan".into()));
    let page = InAppPage::open(&app).await;
    let code = page.code(&app).await;
    // Another browser (or a cross-site post, which carries no SameSite=Lax cookie).
    let forged = page.post(&app, &new_browser(), &code, &[]).await;
    assert_eq!(forged.status(), 400);
    assert!(forged.headers().get("location").is_none());
    assert!(forged.text().await.unwrap().contains("another browser"));
}

#[tokio::test]
async fn dingos_cookies_are_http_only_and_same_site_lax() {
    let app = TestApp::spawn().await;
    app.sim.set_auto_login(Some("zhangsan".into()));
    let browser = new_browser();
    let mut cookies = Vec::new();
    let mut url = app.authorize_url("");
    for _ in 0..10 {
        let response = browser.get(&url).send().await.unwrap();
        cookies.extend(
            response
                .headers()
                .get_all("set-cookie")
                .iter()
                .map(|c| c.to_str().unwrap().to_owned()),
        );
        match response.headers().get("location") {
            Some(location) if !location.to_str().unwrap().starts_with("http://127.0.0.1:1/") => {
                url = url::Url::parse(&url)
                    .unwrap()
                    .join(location.to_str().unwrap())
                    .unwrap()
                    .into();
            }
            _ => break,
        }
    }
    for name in ["dingo_browser=", "dingo_session="] {
        let cookie = cookies
            .iter()
            .find(|c| c.starts_with(name))
            .unwrap_or_else(|| panic!("{name} in {cookies:?}"));
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        assert!(cookie.contains("Path=/"), "{cookie}");
    }
}
