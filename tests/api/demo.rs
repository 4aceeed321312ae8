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
    assert!(page.contains("通讯录管理"), "the page says how to see a leave: {page}");

    // The session is live; 张三 leaves in the organisation console; dingo hears it by Stream
    // and tells the demo app by back-channel logout, within a second.
    let session = |browser: reqwest::Client| {
        let url = format!("{url}session");
        async move { browser.get(url).send().await.unwrap().text().await.unwrap() }
    };
    assert!(session(browser.clone()).await.contains("仍在登录"));
    let origin = url.trim_end_matches("/demo/");
    for _ in 0..500 {
        if demo.simulator.gateway_stats().connected == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let console = browser
        .get(format!("{origin}/dingtalk-sim/org"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(console.contains("leave-zhangsan"), "{console}");
    let left = browser
        .post(format!("{origin}/dingtalk-sim/org/leave"))
        .form(&[("userid", "zhangsan")])
        .send()
        .await
        .unwrap();
    assert!(left.text().await.unwrap().contains("张三 已离职"));
    let mut status = String::new();
    for _ in 0..100 {
        status = session(browser.clone()).await;
        if status.contains("已被注销") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(status.contains("已被注销"), "{status}");
    let ms: i64 = status
        .split("data-ms=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(ms < 1000, "logged out {ms} ms after the leave");
    server.abort();
}

#[tokio::test]
async fn the_organisation_console_answers_scripts_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let demo = dingo::demo::start(listener, dir.path(), Arc::new(SystemClock))
        .await
        .unwrap();
    let origin = demo.url.trim_end_matches("/demo/").to_owned();
    let server = tokio::spawn(demo.application.run_until_stopped());
    let http = reqwest::Client::new();
    let post = |path: &str, form: &[(&str, &str)]| {
        http.post(format!("{origin}/dingtalk-sim/org/{path}"))
            .header("accept", "application/json")
            .form(form)
            .send()
    };
    let moved = post("move", &[("userid", "lisi"), ("dept_id", "2")]).await.unwrap();
    assert_eq!(moved.status(), 200);
    let body: serde_json::Value = moved.json().await.unwrap();
    assert!(body["eventId"].as_str().is_some_and(|id| id.len() == 32), "{body}");
    let admin = post("admin", &[("userid", "lisi"), ("admin", "true")]).await.unwrap();
    assert_eq!(admin.status(), 200);
    assert_eq!(post("leave", &[("userid", "nobody")]).await.unwrap().status(), 404);
    assert_eq!(
        post("move", &[("userid", "lisi"), ("dept_id", "99")])
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(post("leave", &[("userid", "lisi")]).await.unwrap().status(), 200);
    assert_eq!(post("leave", &[("userid", "lisi")]).await.unwrap().status(), 409);
    let deliveries = demo.simulator.deliveries();
    let types: Vec<&str> = deliveries.iter().map(|d| d.event_type.as_str()).collect();
    assert_eq!(types, ["user_modify_org", "org_admin_add", "user_leave_org"]);
    server.abort();
}
