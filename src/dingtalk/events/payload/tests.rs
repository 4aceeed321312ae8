use std::collections::HashMap;

use super::*;

fn stream(headers: &[(&str, &str)], data: &str) -> Result<OrgEvent, PayloadError> {
    let headers: HashMap<String, String> = headers.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
    OrgEvent::from_stream(|name| headers.get(name).cloned(), data)
}

#[test]
fn a_legacy_http_leave_as_really_captured() {
    let event = OrgEvent::from_http(
        r#"{"CorpId":"dingc7c5220402493357f2c783f7214b6d69","EventType":"user_leave_org","UserId":["16399780922588973"],"OptStaffId":"manager164","TimeStamp":"1640658366191"}"#,
    )
    .unwrap();
    assert_eq!(event.event_type, "user_leave_org");
    assert_eq!(event.event_id, None);
    assert_eq!(event.corp_id.as_deref(), Some("dingc7c5220402493357f2c783f7214b6d69"));
    assert_eq!(event.userids, ["16399780922588973"]);
    assert_eq!(event.operator.as_deref(), Some("manager164"));
    assert_eq!(event.born_at_ms, Some(1_640_658_366_191));
}

#[test]
fn a_new_style_http_leave_keys_on_its_event_id() {
    let event = OrgEvent::from_http(
        r#"{"EventType":"user_leave_org","EventTime":1663143335567,"CorpId":"ding9f","BizId":"biz-1","eventId":"c7c7120f","timeStamp":"1685501863357","userId":["015227"]}"#,
    )
    .unwrap();
    assert_eq!(event.event_id.as_deref(), Some("c7c7120f"));
    assert_eq!(event.userids, ["015227"]);
    assert_eq!(
        event.born_at_ms,
        Some(1_685_501_863_357),
        "timeStamp is taken before EventTime"
    );
}

#[test]
fn departments_come_as_numbers_or_strings_and_may_exceed_32_bits() {
    let numbers = OrgEvent::from_http(r#"{"EventType":"org_dept_remove","DeptId":[581208264, 4328250331]}"#).unwrap();
    assert_eq!(numbers.dept_ids, [581_208_264, 4_328_250_331]);
    let strings = OrgEvent::from_http(r#"{"EventType":"org_dept_modify","DeptId":["581208264"]}"#).unwrap();
    assert_eq!(strings.dept_ids, [581_208_264]);
}

#[test]
fn a_stream_event_takes_its_id_type_and_time_from_the_headers() {
    let event = stream(
        &[
            ("eventId", "c7c7120f2c07419ebdba0318c8"),
            ("eventType", "user_leave_org"),
            ("eventCorpId", "ding9f50b15b16741"),
            ("eventBornTime", "1683533823336"),
        ],
        r#"{"timeStamp" : "1685501863357","userId" : ["015227"],"optStaffId":"manager331"}"#,
    )
    .unwrap();
    assert_eq!(event.event_id.as_deref(), Some("c7c7120f2c07419ebdba0318c8"));
    assert_eq!(event.event_type, "user_leave_org");
    assert_eq!(event.corp_id.as_deref(), Some("ding9f50b15b16741"));
    assert_eq!(event.born_at_ms, Some(1_683_533_823_336));
    assert_eq!(event.userids, ["015227"]);
    assert_eq!(event.operator.as_deref(), Some("manager331"));
}

#[test]
fn a_modify_names_people_in_diff_info_as_an_array_or_an_object() {
    let array = stream(
        &[("eventType", "user_modify_org"), ("eventId", "e1")],
        r#"{"timeStamp":1608017258073,"diffInfo":[{"prev":{},"curr":{},"userid":"03301410433273270"}]}"#,
    )
    .unwrap();
    assert_eq!(array.userids, ["03301410433273270"]);
    assert_eq!(
        array.born_at_ms,
        Some(1_608_017_258_073),
        "without a born time in the headers, data's timeStamp, a number here"
    );
    let object = stream(
        &[("eventType", "user_modify_org"), ("eventId", "e2")],
        r#"{"diffInfo":{"prev":{},"curr":{},"userid":"user123456"},"userId":["user123456"]}"#,
    )
    .unwrap();
    assert_eq!(object.userids, ["user123456"], "named once");
}

#[test]
fn a_role_change_names_people_in_its_user_id_list() {
    let event = stream(
        &[("eventType", "label_user_change"), ("eventId", "e3")],
        r#"{"userIdList":["84597464"],"action":"add","labelIdList":[1881]}"#,
    )
    .unwrap();
    assert_eq!(event.userids, ["84597464"]);
    assert!(event.is_about_people());
}

#[test]
fn a_single_userid_string_is_one_person() {
    let event = stream(&[("eventType", "user_leave_org")], r#"{"userId":"ding12345"}"#).unwrap();
    assert_eq!(event.userids, ["ding12345"]);
}

#[test]
fn what_is_not_an_event_is_refused() {
    assert_eq!(OrgEvent::from_http("success"), Err(PayloadError::NotAnObject));
    assert_eq!(OrgEvent::from_http("[1,2]"), Err(PayloadError::NotAnObject));
    assert_eq!(
        OrgEvent::from_http(r#"{"UserId":["a"]}"#),
        Err(PayloadError::NoEventType)
    );
    assert_eq!(stream(&[], "{}"), Err(PayloadError::NoEventType));
}

#[test]
fn an_empty_org_change_is_an_event_about_nobody() {
    let event = stream(&[("eventType", "org_remove"), ("eventId", "e4")], "{}").unwrap();
    assert!(!event.is_about_people());
    assert!(event.dept_ids.is_empty());
}

#[test]
fn the_normalised_event_survives_a_round_trip_as_a_job_payload() {
    let event = OrgEvent::from_http(r#"{"EventType":"user_leave_org","UserId":["a","b"],"OptStaffId":"m"}"#).unwrap();
    let json = serde_json::to_string(&event).unwrap();
    assert_eq!(serde_json::from_str::<OrgEvent>(&json).unwrap(), event);
}
