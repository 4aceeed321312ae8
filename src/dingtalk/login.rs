//! Login pages and the exchanges that turn each route's code into a DingTalk account.

use serde_json::json;

use super::models::{InAppUser, Me, SnsUserInfo, UserAccessToken};
use super::{DingTalk, DingTalkError, Repeat, envelope};

impl DingTalk {
    /// DingTalk's OAuth2 web login page (§6.1).
    pub(super) fn oauth2_login_url(&self, callback: &str, state: &str) -> String {
        let mut url = self.login_base.clone();
        url.set_path(&format!("{}/oauth2/auth", url.path().trim_end_matches('/')));
        url.query_pairs_mut()
            .append_pair("redirect_uri", callback)
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("scope", &self.login_scope)
            .append_pair("state", state)
            .append_pair("prompt", "consent");
        url.into()
    }

    /// The legacy scan-login page (§7.1): the QR page in a browser, the silent `snsapi_auth`
    /// login inside the DingTalk client.
    pub(super) fn legacy_login_url(&self, callback: &str, state: &str, in_client: bool) -> String {
        let (path, scope) = if in_client {
            ("connect/oauth2/sns_authorize", "snsapi_auth")
        } else {
            ("connect/qrconnect", "snsapi_login")
        };
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("appid", &self.legacy_app_id)
            .append_pair("response_type", "code")
            .append_pair("scope", scope)
            .append_pair("state", state)
            .append_pair("redirect_uri", callback)
            .finish();
        format!("{}/{path}?{query}", self.oapi_base)
    }

    /// Web and openAuth codes: `userAccessToken`, then `users/me` with the user's token (§6.4–6.5).
    pub(super) async fn user_by_authorization_code(&self, code: &str) -> Result<Me, DingTalkError> {
        let body = json!({
            "clientId": self.client_id,
            "clientSecret": self.client_secret.expose(),
            "code": code,
            "grantType": "authorization_code",
        });
        let request = self
            .http
            .post(format!("{}/v1.0/oauth2/userAccessToken", self.api_base))
            .json(&body);
        let token: UserAccessToken = self
            .send("oauth2/userAccessToken", Repeat::IfUnused, request, envelope::parse_api)
            .await
            .map_err(|e| match e.api_code() {
                Some("invalidParameter.authCode.notFound" | "invalidCode") => DingTalkError::InvalidCode,
                _ => e.into_error("oauth2/userAccessToken"),
            })?;
        if token.corp_id.as_ref().is_some_and(|corp| corp != &self.corp_id) {
            return Err(DingTalkError::NotMember);
        }
        let request = self
            .http
            .get(format!("{}/v1.0/contact/users/me", self.api_base))
            .header("x-acs-dingtalk-access-token", token.access_token.expose());
        self.send("contact/users/me", Repeat::Safe, request, envelope::parse_api)
            .await
            .map_err(|e| e.into_error("contact/users/me"))
    }

    /// Legacy codes: `sns/getuserinfo_bycode`, signed with the scan-login app's secret (§7.2).
    pub(super) async fn unionid_by_sns_code(&self, code: &str) -> Result<String, DingTalkError> {
        let timestamp = self.clock.now_ms().to_string();
        let signature = super::sns::signature(self.legacy_app_secret.expose(), &timestamp);
        let request = self
            .http
            .post(format!("{}/sns/getuserinfo_bycode", self.oapi_base))
            .query(&[
                ("accessKey", self.legacy_app_id.as_str()),
                ("timestamp", timestamp.as_str()),
                ("signature", signature.as_str()),
            ])
            .json(&json!({ "tmp_auth_code": code }));
        let info: SnsUserInfo = self
            .send("sns/getuserinfo_bycode", Repeat::IfUnused, request, |_, body| {
                envelope::parse_oapi(body)
            })
            .await
            .map_err(|e| match e.oapi_code() {
                Some(40078 | 40029) => DingTalkError::InvalidCode,
                _ => e.into_error("sns/getuserinfo_bycode"),
            })?;
        Ok(info.user_info.unionid)
    }

    /// In-app codes from `requestAuthCode`: `topapi/v2/user/getuserinfo` (§4.4).
    pub(super) async fn userid_by_inapp_code(&self, code: &str) -> Result<String, DingTalkError> {
        let user: InAppUser = self
            .oapi_call("topapi/v2/user/getuserinfo", Repeat::IfUnused, &json!({ "code": code }))
            .await
            .map_err(|e| match e.oapi_code() {
                Some(40078 | 40029) => DingTalkError::InvalidCode,
                Some(60121) => DingTalkError::NotMember,
                // 40079 is also what a member outside the app's visible range gets (Appendix B.1).
                Some(50002 | 40079) => DingTalkError::NotVisible,
                _ => e.into_error("topapi/v2/user/getuserinfo"),
            })?;
        Ok(user.userid)
    }

    #[cfg(test)]
    pub(super) fn test_login_urls(&self) -> (String, String, String) {
        (
            self.oauth2_login_url("https://sso.example.com/cb", "st"),
            self.legacy_login_url("https://sso.example.com/cb", "st", false),
            self.legacy_login_url("https://sso.example.com/cb", "st", true),
        )
    }
}
