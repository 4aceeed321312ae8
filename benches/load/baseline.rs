//! Baselines, measured in the same run as the figures they stand beside: bare signing with
//! dingo's own key and code, a bare actix-web handler serving the same bytes as dingo, and the
//! database work of one `/token` request done directly through dingo's store.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::web::Bytes;
use actix_web::{App, HttpResponse, HttpServer, web};
use dingo::crypto::{SigningKey, jwt, random_token, token_hash};
use dingo::store::{CodeRedemption, Db, NewAccessToken, NewAuthorizationCode, RefreshToken};

use crate::drive::{Run, Stop, drive};
use crate::procs::{clock_ticks, cpu_ticks};

/// `threads` threads signing `claims` as a JWT with `key` through dingo's own `jwt::sign`, for
/// `duration`: the signatures made and the CPU time this process spent.
pub fn sign_loop(key: &SigningKey, claims: &serde_json::Value, threads: usize, duration: Duration) -> Run {
    let count = AtomicU64::new(0);
    let cpu_before = cpu_ticks("self").unwrap_or(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut n = 0;
                while started.elapsed() < duration {
                    if jwt::sign(claims, key, "JWT").is_ok() {
                        n += 1;
                    }
                }
                count.fetch_add(n, Ordering::Relaxed);
            });
        }
    });
    let elapsed = started.elapsed();
    let cpu = (cpu_ticks("self").unwrap_or(cpu_before) - cpu_before) as f64 / clock_ticks();
    Run {
        ok: count.load(Ordering::Relaxed),
        elapsed,
        cpu,
        ..Run::empty()
    }
}

/// A response dingo serves, to be served again by a bare handler.
pub struct Served {
    pub path: &'static str,
    pub body: Bytes,
    pub content_type: String,
    pub cache_control: String,
}

/// A bare actix-web server on a free loopback port, `workers` workers, answering each of
/// `routes` with its bytes and headers: no middleware, no state, no logging.
pub fn bare_server(workers: usize, routes: Vec<Served>) -> anyhow::Result<(String, ServerHandle)> {
    let routes = Arc::new(routes);
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let base = format!("http://{}", listener.local_addr()?);
    let server = HttpServer::new(move || {
        let mut app = App::new();
        for served in routes.iter() {
            let (body, content_type, cache_control) = (
                served.body.clone(),
                served.content_type.clone(),
                served.cache_control.clone(),
            );
            app = app.route(
                served.path,
                web::get().to(move || {
                    let response = HttpResponse::Ok()
                        .insert_header((CONTENT_TYPE, content_type.clone()))
                        .insert_header((CACHE_CONTROL, cache_control.clone()))
                        .body(body.clone());
                    async move { response }
                }),
            );
        }
        app
    })
    .workers(workers)
    .disable_signals()
    .listen(listener)?
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    Ok((base, handle))
}

/// A bare actix-web server on a free loopback port, `workers` workers, answering `POST /token`
/// with a token response whose ID token is the claims of `signing` signed with its key through
/// dingo's own `jwt::sign` (RS256 on the blocking pool, as dingo signs it). With `store`, each request first
/// makes `/token`'s store calls for the form's `code` (see [`store_token_run`]). That and the
/// HTTP exchange are all it does: no client authentication, no checks, no claims to build.
pub fn bare_token_server(
    workers: usize,
    signing: Arc<(SigningKey, serde_json::Value)>,
    store: Option<(Db, Arc<TokenShape>)>,
) -> anyhow::Result<(String, ServerHandle)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let base = format!("http://{}", listener.local_addr()?);
    let server = HttpServer::new(move || {
        let (signing, store) = (signing.clone(), store.clone());
        App::new().route(
            "/token",
            web::post().to(move |form: Bytes| {
                let (signing, store) = (signing.clone(), store.clone());
                async move {
                    if let Some((db, shape)) = &store {
                        let code = url::form_urlencoded::parse(&form)
                            .find(|(name, _)| name == "code")
                            .map(|(_, code)| code.into_owned())
                            .unwrap_or_default();
                        if let Err(e) = one_token_in_the_store(db, &code, shape).await {
                            return HttpResponse::BadRequest().body(e);
                        }
                    }
                    let rs256 = signing.0.alg() == dingo::crypto::Alg::RS256;
                    let sign = move || jwt::sign(&signing.1, &signing.0, "JWT");
                    let signed = if rs256 {
                        tokio::task::spawn_blocking(sign).await.ok().and_then(Result::ok)
                    } else {
                        sign().ok()
                    };
                    match signed {
                        Some(id_token) => {
                            HttpResponse::Ok()
                                .insert_header((CACHE_CONTROL, "no-store"))
                                .json(serde_json::json!({
                                    "access_token": random_token(),
                                    "token_type": "Bearer",
                                    "expires_in": 3600,
                                    "id_token": id_token,
                                    "refresh_token": random_token(),
                                    "scope": crate::flows::SCOPE,
                                }))
                        }
                        None => HttpResponse::InternalServerError().finish(),
                    }
                }
            }),
        )
    })
    .workers(workers)
    .disable_signals()
    .listen(listener)?
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    Ok((base, handle))
}

/// What the store-only `/token` loop writes: the client, the person and the session of a real
/// login, as dingo would.
pub struct TokenShape {
    pub client_id: String,
    pub userid: String,
    pub sid: String,
    pub scope: String,
}

/// `items` authorization codes inserted straight through dingo's store, for
/// [`store_token_run`]; and the pool of `pool` connections to the same database.
pub async fn store_codes(
    database_url: &str,
    pool: u32,
    items: usize,
    shape: &TokenShape,
) -> anyhow::Result<(Db, Vec<String>)> {
    let db = Db::connect(database_url, pool).await?;
    let now = unix_now();
    let codes: Vec<String> = (0..items).map(|_| random_token()).collect();
    for code in &codes {
        db.insert_authorization_code(&NewAuthorizationCode {
            code_hash: token_hash(code),
            client_id: shape.client_id.clone(),
            redirect_uri: crate::procs::REDIRECT_URI.to_owned(),
            userid: shape.userid.clone(),
            scope: shape.scope.clone(),
            nonce: Some("bench-nonce".to_owned()),
            code_challenge: None,
            sid: Some(shape.sid.clone()),
            route: "dingtalk_web".to_owned(),
            auth_time: now,
            expires_at: now + 600,
        })
        .await?;
    }
    Ok((db, codes))
}

/// The database work of the authorization_code grant for codes `start..end`, done straight
/// through dingo's store (the calls `/token` makes, in its order, on one connection) by `connections` tasks: no
/// HTTP, no client authentication, no signing. This process does the work, so its CPU is
/// the one watched.
pub async fn store_token_run(
    db: &Db,
    codes: &Arc<Vec<String>>,
    shape: &Arc<TokenShape>,
    connections: usize,
    (start, end): (usize, usize),
) -> Run {
    let (db, codes, shape) = (db.clone(), codes.clone(), shape.clone());
    drive(
        connections,
        Stop::Items(start, end),
        std::process::id(),
        move |_, item| {
            let (db, codes, shape) = (db.clone(), codes.clone(), shape.clone());
            async move { one_token_in_the_store(&db, &codes[item], &shape).await }
        },
    )
    .await
}

async fn one_token_in_the_store(db: &Db, code: &str, shape: &TokenShape) -> Result<(), String> {
    let fail = |e: dingo::store::StoreError| e.to_string();
    let now = unix_now();
    let hash = dingo::crypto::TokenHash::of(code);
    let mut store = db.checkout().await.map_err(fail)?;
    let CodeRedemption::Redeemed(redeemed) = store.redeem_authorization_code(&hash, now).await.map_err(fail)? else {
        return Err("code not redeemed".into());
    };
    redeemed.user.ok_or("no such user")?;
    let refresh = RefreshToken {
        token_hash: token_hash(&random_token()),
        family_id: hash.as_str().to_owned(),
        client_id: shape.client_id.clone(),
        userid: shape.userid.clone(),
        scope: shape.scope.clone(),
        sid: Some(shape.sid.clone()),
        route: redeemed.code.route.clone(),
        auth_time: redeemed.code.auth_time,
        successor_key: random_token(),
        created_at: now,
        expires_at: now + 1_209_600,
        family_expires_at: now + 2_592_000,
    };
    let access = NewAccessToken {
        token_hash: token_hash(&random_token()),
        client_id: shape.client_id.clone(),
        userid: Some(shape.userid.clone()),
        scope: shape.scope.clone(),
        code_hash: Some(hash.as_str().to_owned()),
        family_id: Some(hash.as_str().to_owned()),
        sid: Some(shape.sid.clone()),
        audience: None,
        created_at: now,
        expires_at: now + 3600,
    };
    store.record_tokens(&access, Some(&refresh)).await.map_err(fail)?;
    Ok(())
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
