//! The login host: `GET /oauth2/auth` (DINGTALK-API.md §6.1–6.2) and the picker's own
//! `GET /oauth2/choose`, which issues the single-use auth code and redirects back. The picker,
//! redirect and error-page helpers also serve the legacy pages in `sns`.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{HttpRequest, HttpResponse};
use url::Url;

use super::directory::{Directory, Person};
use super::pages::{self, Choice, Picker};
use super::state::Grant;
use super::{Simulator, query_pairs};

/// A validated authorize request.
struct AuthRequest {
    client_id: String,
    /// As sent, so that the picker's links carry it over byte for byte.
    raw_redirect_uri: String,
    redirect_uri: Url,
    scope: String,
    state: Option<String>,
}

impl AuthRequest {
    /// The query string that carries this request over to `choose`, plus `extra`.
    fn link(&self, extra: (&str, &str)) -> String {
        let mut pairs = vec![
            ("redirect_uri", self.raw_redirect_uri.as_str()),
            ("response_type", "code"),
            ("client_id", self.client_id.as_str()),
            ("scope", self.scope.as_str()),
        ];
        if let Some(state) = &self.state {
            pairs.push(("state", state));
        }
        pairs.push(extra);
        // Relative to `/oauth2/auth`, so it resolves to the sibling `/oauth2/choose`.
        format!("choose?{}", serde_urlencoded::to_string(pairs).unwrap_or_default())
    }

    fn redirect(&self, pairs: &[(&str, &str)]) -> HttpResponse {
        redirect(&self.redirect_uri, pairs, self.state.as_deref())
    }
}

/// 302 to `target` with `pairs` and then `state` appended to its query.
pub(super) fn redirect(target: &Url, pairs: &[(&str, &str)], state: Option<&str>) -> HttpResponse {
    let mut target = target.clone();
    {
        let mut query = target.query_pairs_mut();
        for (k, v) in pairs {
            query.append_pair(k, v);
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
    }
    HttpResponse::Found()
        .insert_header(no_store())
        .insert_header((header::LOCATION, target.as_str()))
        .finish()
}

/// `GET /oauth2/auth`: the picker, or straight back when auto-login is set.
pub(crate) fn authorize(sim: &Simulator, req: &HttpRequest) -> HttpResponse {
    let request = match validate(sim.directory(), req) {
        Ok(request) => request,
        Err(refusal) => return refusal.page(),
    };
    match sim.auto_login() {
        Some(key) => match sim.directory().person(&key) {
            Some(person) => sign_in(sim, &request, person),
            None => error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "自动登录的账号不存在",
                "The auto-login person is not in the directory",
                &format!("auto-login = {key:?} matches no userid or unionid"),
            ),
        },
        None => {
            let page = picker(
                sim.directory(),
                &request.client_id,
                &request.redirect_uri,
                &request.scope,
                |extra| request.link(extra),
            );
            html(StatusCode::OK, pages::picker(&page))
        }
    }
}

/// `GET /oauth2/choose`: one click on the picker — sign in as `person`, or `action=deny`.
pub(crate) fn choose(sim: &Simulator, req: &HttpRequest) -> HttpResponse {
    let request = match validate(sim.directory(), req) {
        Ok(request) => request,
        Err(refusal) => return refusal.page(),
    };
    let query = query_pairs(req);
    if query.get("action").map(String::as_str) == Some("deny") {
        return request.redirect(&[("error", "access_denied")]);
    }
    let key = query.get("person").map(String::as_str).unwrap_or_default();
    match sim.directory().person(key) {
        Some(person) => sign_in(sim, &request, person),
        None => error_page(
            StatusCode::BAD_REQUEST,
            "账号不存在",
            "No such person",
            &format!("person = {key:?}"),
        ),
    }
}

fn sign_in(sim: &Simulator, request: &AuthRequest, person: Person<'_>) -> HttpResponse {
    let grant = Grant {
        unionid: person.unionid().to_owned(),
        client_id: request.client_id.clone(),
        scope: request.scope.clone(),
    };
    let issued = sim.store().issue_code(grant, sim.now());
    match issued {
        Ok(code) => request.redirect(&[("authCode", &code), ("code", &code)]),
        Err(_) => error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "系统繁忙，请稍后再试",
            "System busy, please try again",
            "no randomness available to issue an auth code",
        ),
    }
}

/// Why an authorize request was refused: shown as a readable 400 page.
pub(super) struct Refusal {
    pub(super) zh: &'static str,
    pub(super) en: &'static str,
    pub(super) detail: String,
}

impl Refusal {
    pub(super) fn page(&self) -> HttpResponse {
        error_page(StatusCode::BAD_REQUEST, self.zh, self.en, &self.detail)
    }
}

/// Checks client_id, redirect_uri, response_type and scope like the real login page does.
fn validate(directory: &Directory, req: &HttpRequest) -> Result<AuthRequest, Refusal> {
    let query = query_pairs(req);
    let get = |key: &str| query.get(key).map(String::as_str).filter(|v| !v.is_empty());
    let bad = |zh, en, detail| Err(Refusal { zh, en, detail });

    let Some(client_id) = get("client_id") else {
        return bad("缺少参数 client_id", "Missing parameter client_id", String::new());
    };
    let Some(app) = directory.app(client_id) else {
        return bad(
            "应用不存在",
            "Unknown app",
            format!("client_id = {client_id:?} is not an app of this simulator"),
        );
    };
    let raw_redirect = get("redirect_uri").unwrap_or_default();
    let redirect_uri = checked_redirect_uri(raw_redirect, &app.redirect_uris)?;
    if get("response_type") != Some("code") {
        return bad(
            "response_type 必须为 code",
            "response_type must be code",
            format!("response_type = {:?}", get("response_type").unwrap_or_default()),
        );
    }
    let scope = get("scope").unwrap_or_default();
    if !scope.split([' ', ',', '+']).any(|s| s == "openid") {
        return bad(
            "scope 必须包含 openid",
            "scope must contain openid",
            format!("scope = {scope:?}"),
        );
    }
    Ok(AuthRequest {
        client_id: client_id.to_owned(),
        raw_redirect_uri: raw_redirect.to_owned(),
        redirect_uri,
        scope: scope.to_owned(),
        state: query.get("state").cloned(),
    })
}

/// `raw` as an absolute http(s) URL that is one of `registered` (any, when none are).
pub(super) fn checked_redirect_uri(raw: &str, registered: &[String]) -> Result<Url, Refusal> {
    let bad = |zh, en, detail| Err(Refusal { zh, en, detail });
    if raw.is_empty() {
        return bad("缺少参数 redirect_uri", "Missing parameter redirect_uri", String::new());
    }
    let redirect_uri = match Url::parse(raw) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => url,
        _ => {
            return bad(
                "redirect_uri 不合法",
                "redirect_uri is not an absolute http(s) URL",
                format!("redirect_uri = {raw:?}"),
            );
        }
    };
    let matches = |u: &String| Url::parse(u).is_ok_and(|u| u == redirect_uri);
    if !registered.is_empty() && !registered.iter().any(matches) {
        return bad(
            "redirect_uri 与应用配置的回调地址不一致",
            "redirect_uri does not match the app's registered redirect URLs",
            format!("redirect_uri = {raw:?}"),
        );
    }
    Ok(redirect_uri)
}

/// The one-click picker for app `client_id`; `link` turns `("person", unionid)` or
/// `("action", "deny")` into a relative link that completes the request.
pub(super) fn picker(
    directory: &Directory,
    client_id: &str,
    redirect_uri: &Url,
    scope: &str,
    link: impl Fn((&str, &str)) -> String,
) -> Picker {
    let members = directory
        .members()
        .iter()
        .map(|m| {
            let departments: Vec<&str> = m
                .dept_id_list
                .iter()
                .filter_map(|id| directory.department(*id).map(|d| d.name.as_str()))
                .collect();
            let mut detail: Vec<&str> = m.title.iter().map(String::as_str).collect();
            let departments = departments.join(" / ");
            detail.push(&departments);
            let detail = format!("{} · userid {}", detail.join(" · "), m.userid);
            let mut badges = Vec::new();
            if m.admin {
                badges.push("管理员 admin");
            }
            if m.boss {
                badges.push("负责人 boss");
            }
            if !m.active {
                badges.push("未激活 inactive");
            }
            if !m.visible {
                badges.push("通讯录范围外 outside contact scope");
            }
            Choice {
                name: m.name.clone(),
                detail,
                badges,
                href: link(("person", &m.unionid)),
            }
        })
        .collect();
    let outsiders = directory
        .outsiders()
        .iter()
        .map(|o| Choice {
            name: o.nick.clone(),
            detail: format!("非本组织成员 · not a member · unionid {}", o.unionid),
            badges: Vec::new(),
            href: link(("person", &o.unionid)),
        })
        .collect();
    Picker {
        corp_name: directory.corp_name().to_owned(),
        client_id: client_id.to_owned(),
        redirect_host: redirect_uri.host_str().unwrap_or_default().to_owned(),
        scope: scope.to_owned(),
        members,
        outsiders,
        deny_href: link(("action", "deny")),
    }
}

pub(super) fn error_page(status: StatusCode, zh: &str, en: &str, detail: &str) -> HttpResponse {
    html(status, pages::error(zh, en, detail))
}

pub(super) fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(no_store())
        .content_type("text/html; charset=utf-8")
        .body(body)
}

fn no_store() -> CacheControl {
    CacheControl(vec![CacheDirective::NoStore])
}
