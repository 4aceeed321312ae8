//! The end-session endpoint (`GET`/`POST /logout`).

use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};

use super::{browser, no_store, pages};
use crate::oidc::{LogoutOutcome, Params, paths};
use crate::state::AppState;

/// The parameters a confirmation form carries over (RP-Initiated Logout 1.0 §2).
const CARRIED: &[&str] = &[
    "id_token_hint",
    "client_id",
    "post_logout_redirect_uri",
    "state",
    "ui_locales",
];

pub async fn logout_get(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    logout(&state, &request, Params::parse(request.query_string())).await
}

pub async fn logout_post(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: Result<web::Bytes, actix_web::Error>,
) -> HttpResponse {
    match super::body(body) {
        Ok(body) => logout(&state, &request, Params::parse(&String::from_utf8_lossy(&body))).await,
        Err(e) => pages::body_error_page(e, pages::Lang::of(&request)),
    }
}

async fn logout(state: &AppState, request: &HttpRequest, params: Params) -> HttpResponse {
    let lang = pages::Lang::of(request);
    let session = browser::session(request, state.secure_cookies);
    // The confirmation form is dingo's own page: a confirmation posted from another site is
    // ignored (the person is asked again). A relying party may still post a logout request with
    // an `id_token_hint` from its own origin (RP-Initiated Logout 1.0 §2).
    let confirmation = params
        .get("confirmation")
        .filter(|_| !super::cross_site(request, state.provider.issuer()));
    let mut response = match state.provider.logout(&params, session.as_deref(), confirmation).await {
        LogoutOutcome::Confirm { csrf } => {
            let carried: Vec<(&str, &str)> = CARRIED
                .iter()
                .filter_map(|name| params.get(name).map(|v| (*name, v)))
                .collect();
            return pages::logout_confirmation_page(&state.provider.url(paths::LOGOUT), &carried, &csrf, lang);
        }
        LogoutOutcome::Redirect(url) => no_store(&mut HttpResponse::SeeOther())
            .insert_header((LOCATION, url))
            .finish(),
        LogoutOutcome::LoggedOut => pages::logged_out_page(lang),
        LogoutOutcome::Invalid(error) => return pages::logout_error_page(error, lang),
    };
    // A freshly built cookie always encodes to a valid header.
    let _ = response.add_cookie(&browser::cleared_session_cookie(state.secure_cookies));
    response
}
