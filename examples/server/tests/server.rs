//! Drives the real `example-server` binary over loopback, as the vendor would: every vendor
//! sample, signed, in each form the vendor sends, and the refusals a stranger would meet.

mod support;

use serde_json::{Value, json};
use support::{Server, next_line};
use tests::{APP_ID, TOKEN, fixtures, now, signed_query};

#[tokio::test]
async fn every_vendor_sample_is_accepted_and_logged_as_a_typed_event() {
    let mut server = Server::start(|c| {
        c.env("TENCENT_CHAT_SDKAPPID", APP_ID.to_string()).args(["--token", TOKEN]);
    })
    .await;
    assert!(server.start_log.iter().any(|l| l.contains(&format!("accepting callbacks for SdkAppid {APP_ID}"))));

    for fixture in fixtures() {
        let mut body = fixture.sample_json();
        body["SomeFutureField"] = json!("ignored");
        // EventTime as a number and as a string of digits, where the command has one.
        let time = body.get("EventTime").map(|t| t.to_string().trim_matches('"').to_owned());
        let forms = match &time {
            Some(time) => vec![json!(time.parse::<u64>().unwrap()), json!(time)],
            None => vec![Value::Null],
        };
        for event_time in forms {
            if !event_time.is_null() {
                body["EventTime"] = event_time;
            }
            let query = format!("{}&NotYetDocumented=1", signed_query(&fixture.command, now()));
            let (status, reply) = server.post(&query, &serde_json::to_vec(&body).unwrap()).await;
            assert_eq!((status, reply), (200, json!({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""})));

            let line = next_line(&mut server.lines).await;
            let name = fixture.command.split('.').nth(1).unwrap();
            let type_name = name.strip_prefix("Callback").unwrap_or(name);
            assert!(line.contains(&fixture.command), "{line}");
            assert!(line.contains(&format!("{type_name} {{")), "the typed event is logged: {line}");
            if let Some(time) = &time {
                assert!(
                    line.contains(&format!("event_time: {time}"))
                        || line.contains(&format!("event_time: Some({time})")),
                    "{line}"
                );
            }
            assert!(line.contains(r#"platform="iOS" client_ip="203.0.113.7""#), "{line}");
        }
    }
}

#[tokio::test]
async fn strangers_are_refused_with_the_documented_status() {
    let server = Server::start(|c| {
        c.args(["--sdkappid", &APP_ID.to_string(), "--token", TOKEN]);
    })
    .await;
    let create = fixtures().into_iter().find(|f| f.command == "Group.CallbackAfterCreateGroup").unwrap();
    let query = signed_query(&create.command, now());
    let cases = [
        (query.replace("Sign=", "Sign=f"), create.sample.clone(), 401, "`Sign` does not match"),
        (query.replace(&APP_ID.to_string(), "1400000001"), create.sample.clone(), 403, "is not this app's"),
        (
            query.replace("Group.CallbackAfterCreateGroup", "Group.CallbackAfterGroupInfoChanged"),
            create.sample.clone(),
            400,
            "differs from the query's",
        ),
        (query.clone(), b"{\"CallbackCommand\": ".to_vec(), 400, "the body is not a valid"),
    ];
    for (query, body, status, info) in cases {
        let (got, reply) = server.post(&query, &body).await;
        assert_eq!(got, status, "{reply}");
        assert_eq!(reply["ActionStatus"], "FAIL");
        assert!(reply["ErrorInfo"].as_str().unwrap().contains(info), "{reply}");
    }
}

#[tokio::test]
async fn without_an_app_id_every_app_is_accepted_and_it_says_so() {
    let server = Server::start(|_| {}).await;
    assert!(
        server.start_log.iter().any(|l| l.contains("accepting callbacks for ANY SdkAppid")),
        "{:?}",
        server.start_log
    );
    let create = fixtures().into_iter().find(|f| f.command == "Group.CallbackAfterCreateGroup").unwrap();
    let query = "SdkAppid=1&CallbackCommand=Group.CallbackAfterCreateGroup&contenttype=json";
    let (status, _) = server.post(query, &create.sample).await;
    assert_eq!(status, 200);
}

/// The real-socket receive-path checks the Python and npm servers pass (tests/packages/receive_path.py):
/// `example-server` answers them the same.
#[test]
fn example_server_passes_the_receive_path_checks_the_packaged_servers_pass() {
    let root = tests::workspace_root();
    let output = std::process::Command::new("python3")
        .arg(root.join("tests/packages/receive_path.py"))
        .arg(&root)
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_example-server"))
        .output()
        .expect("python3 runs");
    let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && report.contains(" passed, 0 failed"), "{report}");
}
