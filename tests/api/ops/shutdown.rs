//! SIGTERM and SIGINT: no new connections, in-flight requests finish, exit code 0.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use super::{REDIRECT_URI, authorize_url, browser, query, redirect_from, start_dingo, start_sim};

/// The `host:port` of an `http://` base URL.
fn address(base: &str) -> String {
    base.trim_start_matches("http://").to_owned()
}

/// Waits (on the real process) until `address` refuses connections; false after 10 s.
fn refuses_connections(address: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if TcpStream::connect(address).is_err() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn sigterm_and_sigint_both_stop_dingo_cleanly_and_close_its_port() {
    for signal in ["TERM", "INT"] {
        let dir = tempfile::tempdir().unwrap();
        let nowhere = "http://127.0.0.1:9";
        let (mut dingo, issuer) = start_dingo(dir.path(), nowhere, nowhere, "", &[]);
        drop(TcpStream::connect(address(&issuer)).unwrap());
        dingo.signal(signal);
        let (status, lines) = dingo.wait();
        assert_eq!(status.code(), Some(0), "SIG{signal}: {lines:#?}");
        let log = lines.join("\n");
        assert!(log.contains(&format!("SIG{signal}")), "{log}");
        assert!(log.contains("dingo stopped cleanly"), "{log}");
        assert!(
            TcpStream::connect(address(&issuer)).is_err(),
            "SIG{signal}: still accepting"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_an_in_flight_login_finish_before_exiting() {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, sim) = start_sim();
    // DingTalk's server APIs: a socket the test answers by hand, so the login's first DingTalk
    // call is in flight for exactly as long as the test wants.
    let dingtalk_api = TcpListener::bind("127.0.0.1:0").unwrap();
    let api = format!("http://{}", dingtalk_api.local_addr().unwrap());
    let (mut dingo, issuer) = start_dingo(dir.path(), &sim, &api, "", &[]);

    let browser = browser();
    let at_dingtalk = redirect_from(&browser, &authorize_url(&issuer, "slow-state")).await;
    let callback = redirect_from(&browser, at_dingtalk.as_str()).await;
    let in_flight = tokio::spawn({
        let browser = browser.clone();
        async move {
            let response = browser.get(callback.as_str()).send().await.unwrap();
            (response.status(), response.text().await.unwrap())
        }
    });

    // dingo is now waiting for DingTalk inside the callback request.
    let (mut upstream, _) = dingtalk_api.accept().unwrap();
    let mut head = [0u8; 1024];
    assert!(upstream.read(&mut head).unwrap() > 0);

    dingo.signal("TERM");
    dingo.wait_for_line("SIGTERM");
    assert!(
        refuses_connections(&address(&issuer)),
        "new connections are refused while the request is in flight"
    );

    // A 500 (after which the code is not sent again): the person is offered to try again, the
    // way back to the app carrying the error and the app's state.
    upstream
        .write_all(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        .unwrap();
    drop(upstream);
    let (status, page) = in_flight.await.unwrap();
    assert_eq!(status, 503, "{page}");
    assert!(page.contains("id=\"login-again\""), "{page}");
    let back = page
        .split("class=\"button secondary\" href=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let back = url::Url::parse(&back.replace("&amp;", "&")).unwrap();
    assert!(back.as_str().starts_with(REDIRECT_URI), "{back}");
    let q = query(&back);
    assert_eq!(q["error"], "temporarily_unavailable");
    assert_eq!(q["state"], "slow-state");
    drop(browser);

    let (status, lines) = dingo.wait();
    assert_eq!(status.code(), Some(0), "{lines:#?}");
    let stopping = lines.iter().position(|l| l.contains("SIGTERM")).unwrap();
    let callback_logged = lines
        .iter()
        .position(|l| l.contains("/login/dingtalk/callback") && l.contains("status=503"))
        .expect("the in-flight request was answered and logged");
    let stopped = lines
        .iter()
        .position(|l| l.contains("dingo stopped cleanly"))
        .expect("dingo says it stopped cleanly");
    assert!(stopping < callback_logged && callback_logged < stopped, "{lines:#?}");
}
