//! The 通讯录 events as they really arrive (DINGTALK-EVENTS.md §3), read tolerantly into one
//! normalised [`OrgEvent`]: HTTP push plaintext in the legacy PascalCase or the newer camelCase
//! style, and Stream frames whose headers carry the event's id and type. Field names are taken
//! in either case, `timeStamp` as a string or a number, ids as a list or a single value.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The URL-verification event of HTTP push (§2.6): answered, never stored.
pub const CHECK_URL: &str = "check_url";

/// A directory change, whichever way it came.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgEvent {
    /// DingTalk's idempotency key (`eventId`, or the HTTP `BizId`); legacy HTTP pushes carry
    /// none, and are keyed by a hash of their plaintext instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    pub event_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corp_id: Option<String>,
    /// The people concerned (`userId`, or `userIdList` of a role change).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub userids: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dept_ids: Vec<i64>,
    /// Who made the change (`optStaffId`), when DingTalk says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// When the change happened, epoch milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub born_at_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("the event is not a JSON object")]
    NotAnObject,
    #[error("the event names no event type")]
    NoEventType,
}

impl OrgEvent {
    /// The decrypted plaintext of an HTTP push (§3.3, both styles).
    pub fn from_http(plaintext: &str) -> Result<Self, PayloadError> {
        let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(plaintext) else {
            return Err(PayloadError::NotAnObject);
        };
        let fields = Fields(&fields);
        let event_type = fields
            .text(&["EventType", "eventType"])
            .ok_or(PayloadError::NoEventType)?;
        Ok(Self {
            event_id: fields.text(&["eventId", "EventId", "BizId", "bizId"]),
            corp_id: fields.text(&["CorpId", "corpId"]),
            born_at_ms: fields.millis(&["TimeStamp", "timeStamp", "EventTime", "eventTime"]),
            ..fields.body(event_type)
        })
    }

    /// A Stream EVENT frame: its string headers (§1.4) and its `data` string (§3.2). The headers
    /// win over what `data` repeats.
    pub fn from_stream(header: impl Fn(&str) -> Option<String>, data: &str) -> Result<Self, PayloadError> {
        let parsed = serde_json::from_str::<Value>(data).unwrap_or(Value::Null);
        let empty = Map::new();
        let fields = Fields(parsed.as_object().unwrap_or(&empty));
        let event_type = header("eventType")
            .filter(|t| !t.is_empty())
            .or_else(|| fields.text(&["eventType", "EventType"]))
            .ok_or(PayloadError::NoEventType)?;
        Ok(Self {
            event_id: header("eventId")
                .filter(|id| !id.is_empty())
                .or_else(|| fields.text(&["eventId", "EventId"])),
            corp_id: header("eventCorpId").or_else(|| fields.text(&["corpId", "CorpId"])),
            born_at_ms: header("eventBornTime")
                .and_then(|t| t.trim().parse().ok())
                .or_else(|| fields.millis(&["timeStamp", "TimeStamp"])),
            ..fields.body(event_type)
        })
    }

    /// Whether this event concerns people (as opposed to departments or the organisation).
    pub fn is_about_people(&self) -> bool {
        !self.userids.is_empty()
    }
}

/// A JSON object read by any of several names.
struct Fields<'a>(&'a Map<String, Value>);

impl Fields<'_> {
    fn first(&self, names: &[&str]) -> Option<&Value> {
        names.iter().find_map(|name| self.0.get(*name)).filter(|v| !v.is_null())
    }

    /// A string, or a number written as one.
    fn text(&self, names: &[&str]) -> Option<String> {
        match self.first(names)? {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// Epoch milliseconds as a string or a number.
    fn millis(&self, names: &[&str]) -> Option<i64> {
        match self.first(names)? {
            Value::String(s) => s.trim().parse().ok(),
            Value::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    /// Strings from a list, or from a single value.
    fn texts(&self, names: &[&str]) -> Vec<String> {
        let one = |v: &Value| match v {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        match self.first(names) {
            Some(Value::Array(items)) => items.iter().filter_map(one).collect(),
            Some(v) => one(v).into_iter().collect(),
            None => Vec::new(),
        }
    }

    /// What both formats share: the people, departments and operator.
    fn body(&self, event_type: String) -> OrgEvent {
        let mut userids = self.texts(&["UserId", "userId", "UserIdList", "userIdList"]);
        // A `user_modify_org` names its people in `diffInfo` too (an object or, as really
        // seen, an array of them).
        let diffs = match self.first(&["diffInfo", "DiffInfo"]) {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(one @ Value::Object(_)) => vec![one],
            _ => Vec::new(),
        };
        for diff in diffs {
            if let Some(Value::String(id)) = diff.get("userid").or_else(|| diff.get("userId"))
                && !id.trim().is_empty()
                && !userids.iter().any(|u| u == id.trim())
            {
                userids.push(id.trim().to_owned());
            }
        }
        let dept_ids = self
            .texts(&["DeptId", "deptId"])
            .iter()
            .filter_map(|id| id.parse().ok())
            .collect();
        OrgEvent {
            event_id: None,
            event_type,
            corp_id: None,
            userids,
            dept_ids,
            operator: self.text(&["OptStaffId", "optStaffId"]),
            born_at_ms: None,
        }
    }
}

#[cfg(test)]
mod tests;
