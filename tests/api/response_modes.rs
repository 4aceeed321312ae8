//! Response modes: the code (or error) in the redirect URI's query (default), in its fragment, or
//! posted by an auto-submitting form (OAuth 2.0 Form Post Response Mode); the `openidconnect`
//! crate redeems what arrived.

use std::collections::HashMap;

use crate::support::app::{Landing, WEB_REDIRECT};
use crate::support::{Rp, TestApp};

/// The hidden fields of a form_post page, and its form's action.
fn posted_form(html: &str) -> (String, HashMap<String, String>) {
    let attribute = |tag: &str, name: &str| {
        let marker = format!("{name}=\"");
        tag.find(&marker)
            .map(|i| tag[i + marker.len()..].split('"').next().unwrap().replace("&amp;", "&"))
    };
    let form = html.split("<form ").nth(1).unwrap();
    let action = attribute(form, "action").unwrap();
    let fields = form
        .split("<input ")
        .skip(1)
        .filter_map(|input| Some((attribute(input, "name")?, attribute(input, "value")?)))
        .collect();
    (action, fields)
}

#[tokio::test]
async fn form_post_delivers_the_code_in_a_self_submitting_form_the_client_redeems() {
    let app = TestApp::spawn().await;
    let rp = Rp::discover(&app).await;
    app.sim.set_auto_login(Some("zhangsan".into()));
    let started = rp.start(&["profile"]);
    let url = format!("{}&response_mode=form_post", started.url);
    let Landing::Page { status, body } = app.follow(&url).await else {
        panic!("a form, not a redirect");
    };
    assert_eq!(status, 200);
    let (action, fields) = posted_form(&body);
    assert_eq!(action, WEB_REDIRECT);
    assert_eq!(fields["state"], *started.state.secret());
    assert_eq!(fields["iss"], app.address);
    let verified = rp.finish(started, &fields["code"]).await;
    assert_eq!(verified.claims.subject().as_str(), "zhangsan");
}

#[tokio::test]
async fn the_form_post_page_runs_only_its_own_script_and_posts_only_to_the_client() {
    let app = TestApp::spawn().await;
    app.sim.set_auto_login(Some("zhangsan".into()));
    let browser = crate::support::app::new_browser();
    let mut url = app.authorize_url("&response_mode=form_post");
    let page = loop {
        let response = browser.get(&url).send().await.unwrap();
        match response.headers().get("location") {
            Some(location) => {
                url = url::Url::parse(&url)
                    .unwrap()
                    .join(location.to_str().unwrap())
                    .unwrap()
                    .into()
            }
            None => break response,
        }
    };
    let policy = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    let nonce = policy.split("'nonce-").nth(1).unwrap().split('\'').next().unwrap();
    assert!(html.contains(&format!("<script nonce=\"{nonce}\">")), "{html}");
    assert!(policy.contains("form-action http://127.0.0.1:1;"), "{policy}");
    assert!(policy.starts_with("default-src 'none'"));
    // An error goes back the same way.
    let (_, fields) = match app
        .follow(&app.authorize_url("&response_mode=form_post&prompt=none&max_age=x"))
        .await
    {
        Landing::Page { body, .. } => posted_form(&body),
        Landing::AtClient(url) => panic!("expected a form, got {url}"),
    };
    assert_eq!(fields["error"], "invalid_request");
}

#[tokio::test]
async fn fragment_mode_puts_the_code_after_the_hash() {
    let app = TestApp::spawn().await;
    app.sim.set_auto_login(Some("zhangsan".into()));
    let Landing::AtClient(url) = app.follow(&app.authorize_url("&response_mode=fragment")).await else {
        panic!("a redirect to the client");
    };
    assert_eq!(url.query(), None, "nothing in the query: {url}");
    let fragment: HashMap<String, String> = url::form_urlencoded::parse(url.fragment().unwrap().as_bytes())
        .into_owned()
        .collect();
    assert_eq!(fragment["state"], "st-1");
    let response = app.redeem(&fragment["code"]).await;
    assert_eq!(response.status(), 200);
    // An unknown mode is refused, in the default mode.
    let Landing::AtClient(url) = app.follow(&app.authorize_url("&response_mode=web_message")).await else {
        panic!("a redirect to the client");
    };
    let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(query["error"], "invalid_request");
}

#[tokio::test]
async fn a_refusal_page_returns_to_a_form_post_client_with_a_form() {
    let app = TestApp::spawn().await;
    // 张三 is not in 财务部: the finance app's policy refuses him on a page.
    app.sim.set_auto_login(Some("zhangsan".into()));
    let url = app
        .authorize_url_for(crate::support::app::FINANCE_CLIENT, "&response_mode=form_post")
        .replace("%20phone", "");
    let Landing::Page { status, body } = app.follow(&url).await else {
        panic!("a refusal page");
    };
    assert_eq!(status, 403);
    let (action, fields) = posted_form(&body);
    assert_eq!(action, WEB_REDIRECT);
    assert_eq!(fields["error"], "access_denied");
    assert!(body.contains("<form method=\"post\""), "{body}");
}
