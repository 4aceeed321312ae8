//! `dingo demo`: the demo app logs in through dingo and the simulator's person picker.

use std::net::TcpListener;
use std::sync::Arc;

use dingo::clock::SystemClock;

#[tokio::test]
async fn the_demo_app_logs_a_person_in_and_shows_verified_claims() {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let demo = dingo::demo::start(listener, dir.path(), Arc::new(SystemClock))
        .await
        .unwrap();
    let url = demo.url.clone();
    let server = tokio::spawn(demo.application.run_until_stopped());
    let browser = reqwest::Client::builder().cookie_store(true).build().unwrap();

    let home = browser.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(home.contains("用钉钉登录"));
    // "Log in" → dingo → the simulator's picker page (redirects followed by the client).
    let picker = browser.get(format!("{url}login")).send().await.unwrap();
    let picker_url = picker.url().clone();
    let picker_page = picker.text().await.unwrap();
    assert!(picker_page.contains("张三"), "{picker_page}");
    // One click on 张三: the link whose text names her.
    let link = picker_page
        .split("<a ")
        .find(|a| a.contains("张三"))
        .and_then(|a| a.split("href=\"").nth(1))
        .and_then(|h| h.split('"').next())
        .unwrap()
        .replace("&amp;", "&");
    let done = browser.get(picker_url.join(&link).unwrap()).send().await.unwrap();
    assert_eq!(done.status(), 200);
    let page = done.text().await.unwrap();
    assert!(page.contains("已登录"), "{page}");
    assert!(page.contains("&quot;sub&quot;: &quot;zhangsan&quot;"), "{page}");
    assert!(page.contains("userinfo"));
    server.abort();
}
