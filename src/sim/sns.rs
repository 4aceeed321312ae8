//! Legacy scan login (DINGTALK-API.md §7): the entry pages `GET /connect/qrconnect` (QR page,
//! `snsapi_login`) and `GET /connect/oauth2/sns_authorize` (`snsapi_login`, or `snsapi_auth` for
//! the silent in-client login) show the same one-click picker as `/oauth2/auth` — or sign
//! straight in under auto-login — and come back with `redirect_uri?code=<sns tmp code>&state=S`
//! (only `code`, §7.1). The picker's links point at the same page with `person=` (or
//! `action=deny`) added. The tmp code is read by `POST /sns/getuserinfo_bycode` ([`bycode`]).

mod bycode;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use url::Url;

use super::directory::{Directory, Person};
use super::login::{self, Refusal};
use super::pages;
use super::state::Grant;
use super::{Simulator, query_pairs};

pub(crate) use bycode::getuserinfo_bycode;

/// A validated legacy entry request.
struct SnsRequest {
    /// The page's own last path segment, so that picker links come back to it.
    page: &'static str,
    app_id: String,
    /// As sent, so that the picker's links carry it over byte for byte.
    raw_redirect_uri: String,
    redirect_uri: Url,
    scope: String,
    state: Option<String>,
}

impl SnsRequest {
    /// The relative link back to this page with the request's parameters plus `extra`.
    fn link(&self, extra: (&str, &str)) -> String {
        let mut pairs = vec![
            ("appid", self.app_id.as_str()),
            ("response_type", "code"),
            ("scope", self.scope.as_str()),
            ("redirect_uri", self.raw_redirect_uri.as_str()),
        ];
        if let Some(state) = &self.state {
            pairs.push(("state", state));
        }
        pairs.push(extra);
        format!(
            "{}?{}",
            self.page,
            serde_urlencoded::to_string(pairs).unwrap_or_default()
        )
    }
}

/// `GET /connect/qrconnect`.
pub(crate) fn qrconnect(sim: &Simulator, req: &HttpRequest) -> HttpResponse {
    entry(sim, req, "qrconnect", &["snsapi_login"])
}

/// `GET /connect/oauth2/sns_authorize`.
pub(crate) fn sns_authorize(sim: &Simulator, req: &HttpRequest) -> HttpResponse {
    entry(sim, req, "sns_authorize", &["snsapi_login", "snsapi_auth"])
}

/// The picker; or, with `person=` (a picker click) or auto-login, straight back with a code.
fn entry(sim: &Simulator, req: &HttpRequest, page: &'static str, scopes: &[&str]) -> HttpResponse {
    let request = match validate(sim.directory(), req, page, scopes) {
        Ok(request) => request,
        Err(refusal) => return refusal.page(),
    };
    let query = query_pairs(req);
    let state = request.state.as_deref();
    if query.get("action").map(String::as_str) == Some("deny") {
        return login::redirect(&request.redirect_uri, &[("error", "access_denied")], state);
    }
    let (key, status) = match (query.get("person"), sim.auto_login()) {
        (Some(key), _) => (key.clone(), StatusCode::BAD_REQUEST),
        (None, Some(key)) => (key, StatusCode::INTERNAL_SERVER_ERROR),
        (None, None) => {
            let page = login::picker(
                sim.directory(),
                &request.app_id,
                &request.redirect_uri,
                &request.scope,
                |extra| request.link(extra),
            );
            return login::html(StatusCode::OK, pages::picker(&page));
        }
    };
    match sim.directory().person(&key) {
        Some(person) => sign_in(sim, &request, person),
        None => login::error_page(
            status,
            "账号不存在",
            "No such person",
            &format!("person = {key:?} matches no userid or unionid"),
        ),
    }
}

fn sign_in(sim: &Simulator, request: &SnsRequest, person: Person<'_>) -> HttpResponse {
    let grant = Grant {
        unionid: person.unionid().to_owned(),
        client_id: request.app_id.clone(),
        scope: request.scope.clone(),
    };
    let issued = sim.store().issue_sns_code(grant, sim.now());
    match issued {
        Ok(code) => login::redirect(&request.redirect_uri, &[("code", &code)], request.state.as_deref()),
        Err(_) => login::error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "系统繁忙，请稍后再试",
            "System busy, please try again",
            "no randomness available to issue a tmp auth code",
        ),
    }
}

/// Checks appid, redirect_uri, response_type and scope; `scopes` are the ones this page takes.
fn validate(
    directory: &Directory,
    req: &HttpRequest,
    page: &'static str,
    scopes: &[&str],
) -> Result<SnsRequest, Refusal> {
    let query = query_pairs(req);
    let get = |key: &str| query.get(key).map(String::as_str).filter(|v| !v.is_empty());
    let bad = |zh, en, detail| Err(Refusal { zh, en, detail });

    let Some(app_id) = get("appid") else {
        return bad("缺少参数 appid", "Missing parameter appid", String::new());
    };
    let Some(app) = directory.legacy_app(app_id) else {
        return bad(
            "应用不存在",
            "Unknown app",
            format!("appid = {app_id:?} is not a legacy app of this simulator"),
        );
    };
    let raw_redirect = get("redirect_uri").unwrap_or_default();
    let redirect_uri = login::checked_redirect_uri(raw_redirect, &app.redirect_uris)?;
    if get("response_type") != Some("code") {
        return bad(
            "response_type 必须为 code",
            "response_type must be code",
            format!("response_type = {:?}", get("response_type").unwrap_or_default()),
        );
    }
    let scope = get("scope").unwrap_or_default();
    if !scopes.contains(&scope) {
        // New-style scopes (openid, Contact.User.Read, …) make the whole goto invalid.
        let mixed = scope
            .split([' ', ',', '+'])
            .any(|s| !s.is_empty() && !s.starts_with("snsapi_"));
        let detail = format!("scope = {scope:?}; this page takes {}", scopes.join(" or "));
        return if mixed {
            bad("goto param is invalid", "goto param is invalid", detail)
        } else {
            bad("scope 不合法", "Unsupported scope", detail)
        };
    }
    Ok(SnsRequest {
        page,
        app_id: app_id.to_owned(),
        raw_redirect_uri: raw_redirect.to_owned(),
        redirect_uri,
        scope: scope.to_owned(),
        state: query.get("state").cloned(),
    })
}
