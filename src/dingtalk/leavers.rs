//! Who left the organisation in a window of time: `GET /v1.0/contact/empLeaveRecords`
//! (DINGTALK-EVENTS.md §6), the safety net for leave events that never arrived.

use serde::Deserialize;

use super::{CallError, DingTalk, DingTalkError, Repeat, envelope};

/// DingTalk's page size limit for this API.
const PAGE: u32 = 50;
/// More pages than any organisation's leavers in one window: stops a server that never ends.
const MAX_PAGES: usize = 2000;

/// Someone who left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaver {
    pub userid: String,
    /// When, as DingTalk says (`2021-01-06T11:47:37Z`).
    pub leave_time: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    #[serde(default)]
    next_token: Option<String>,
    #[serde(default)]
    records: Vec<Record>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    user_id: String,
    #[serde(default)]
    leave_time: Option<String>,
}

impl DingTalk {
    /// Everyone who left between `start` and `end` (unix seconds), page by page.
    pub async fn leavers(&self, start: i64, end: i64) -> Result<Vec<Leaver>, DingTalkError> {
        let (start, end) = (crate::calendar::format_utc(start), crate::calendar::format_utc(end));
        let mut leavers = Vec::new();
        let mut next = "0".to_owned();
        for _ in 0..MAX_PAGES {
            let page: Page = self
                .with_app_token(|token| {
                    let request = self
                        .http
                        .get(format!("{}/v1.0/contact/empLeaveRecords", self.api_base))
                        .header("x-acs-dingtalk-access-token", token)
                        .query(&[
                            ("startTime", start.as_str()),
                            ("endTime", end.as_str()),
                            ("nextToken", next.as_str()),
                            ("maxResults", &PAGE.to_string()),
                        ]);
                    async move {
                        self.send("contact/empLeaveRecords", Repeat::Safe, request, envelope::parse_api)
                            .await
                    }
                })
                .await
                .map_err(|e: CallError| e.into_error("contact/empLeaveRecords"))?;
            leavers.extend(page.records.into_iter().map(|r| Leaver {
                userid: r.user_id,
                leave_time: r.leave_time,
            }));
            match page.next_token.filter(|t| !t.is_empty()) {
                Some(token) => next = token,
                None => return Ok(leavers),
            }
        }
        Err(DingTalkError::Unavailable(
            "contact/empLeaveRecords: too many pages".into(),
        ))
    }
}
