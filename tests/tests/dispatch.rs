//! The dispatcher end to end, without HTTP: each vendor sample as the vendor sends it, and each
//! way a request is refused, with its status and `ErrorInfo`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use serde_json::{Value, json};
use tencent_chat_callbacks::common::{ClientPlatform, GroupType};
use tencent_chat_callbacks::signature::SignatureError;
use tencent_chat_callbacks::{
    BuildError, Command, Context, DecodeError, DispatchError, Dispatcher, DispatcherBuilder, Event, HandlerError,
    HttpReply, QueryError, Refusal, UnhandledEvent, group, handlers, official_account,
};
use tests::{APP_ID, TOKEN, fixtures, sign, signed_query};

/// The fixed time of every signed request here.
const NOW: u64 = 1_700_000_000;

/// What the handlers saw: the command and the event re-encoded as JSON, with the context.
type Seen = Arc<Mutex<Vec<(String, Value, Context)>>>;

/// Handlers for all five commands, recording what they receive.
struct Recorder(Seen);

impl Recorder {
    fn record(&self, event: &impl serde::Serialize, ctx: Context) {
        self.0.lock().unwrap().push((ctx.command().to_owned(), serde_json::to_value(event).unwrap(), ctx));
    }
}

#[handlers]
impl Recorder {
    #[on("Group.CallbackAfterCreateGroup")]
    async fn created(&self, event: group::AfterCreateGroup, ctx: Context) {
        self.record(&event, ctx);
    }

    #[on("Group.CallbackAfterChangeGroupOwner")]
    async fn owner(&self, event: group::AfterChangeGroupOwner, ctx: Context) {
        self.record(&event, ctx);
    }

    #[on("Group.CallbackAfterGroupInfoChanged")]
    async fn info(&self, event: group::AfterGroupInfoChanged, ctx: Context) {
        self.record(&event, ctx);
    }

    #[on("Group.CallbackAfterGroupAttrChanged")]
    async fn attributes(&self, event: group::AfterGroupAttrChanged, ctx: Context) {
        self.record(&event, ctx);
    }

    #[on("OfficialAccount.CallbackAfterOfficialAccountInfoChanged")]
    async fn official_account(&self, event: official_account::AfterOfficialAccountInfoChanged, ctx: Context) {
        self.record(&event, ctx);
    }
}

fn builder(seen: &Seen) -> DispatcherBuilder {
    Dispatcher::builder()
        .app_id(APP_ID)
        .token(TOKEN)
        .clock(|| UNIX_EPOCH + Duration::from_secs(NOW))
        .handlers(Recorder(seen.clone()))
}

fn dispatcher() -> (Dispatcher, Seen) {
    let seen = Seen::default();
    (builder(&seen).build().unwrap(), seen)
}

fn body_of(reply: &HttpReply) -> Value {
    serde_json::from_slice(&reply.body).unwrap()
}

fn sample(command: &str) -> Value {
    fixtures().into_iter().find(|f| f.command == command).unwrap().sample_json()
}

const CREATE: &str = "Group.CallbackAfterCreateGroup";

/// Dispatches and checks the status, the FAIL body and that `ErrorInfo` contains `info`.
async fn assert_refused(dispatcher: &Dispatcher, query: &str, body: &[u8], status: u16, info: &str) {
    let reply = dispatcher.dispatch(query, body.to_vec().into()).await;
    let body = body_of(&reply);
    assert_eq!(reply.status, status, "{query}: {body}");
    assert_eq!(body["ActionStatus"], "FAIL", "{body}");
    assert_eq!(body["ErrorCode"], 1, "{body}");
    let error_info = body["ErrorInfo"].as_str().unwrap();
    assert!(error_info.contains(info), "`{error_info}` should contain `{info}`");
}

/// The commands `Recorder` handles.
const RECORDED: [&str; 5] = [
    "Group.CallbackAfterCreateGroup",
    "Group.CallbackAfterChangeGroupOwner",
    "Group.CallbackAfterGroupInfoChanged",
    "Group.CallbackAfterGroupAttrChanged",
    "OfficialAccount.CallbackAfterOfficialAccountInfoChanged",
];

#[tokio::test]
async fn every_vendor_sample_is_accepted_in_every_form_the_vendor_sends() {
    let (dispatcher, seen) = dispatcher();
    for fixture in fixtures().into_iter().filter(|f| RECORDED.contains(&f.command.as_str())) {
        let mut variants = Vec::new();
        let mut body = fixture.sample_json();
        variants.push(body.clone());
        // EventTime as a number and as a string of digits.
        let time = body["EventTime"].to_string().trim_matches('"').parse::<u64>().unwrap();
        body["EventTime"] = json!(time);
        variants.push(body.clone());
        body["EventTime"] = json!(time.to_string());
        variants.push(body.clone());
        // A field the vendor may add later, and an undocumented one seen in real traffic.
        body["SomeFutureField"] = json!({"nested": [1, 2, 3]});
        body["MsgPriority"] = json!("Normal");
        variants.push(body);

        for variant in variants {
            let query = format!("{}&FutureParameter=1", signed_query(&fixture.command, NOW));
            let reply = dispatcher.dispatch(&query, serde_json::to_vec(&variant).unwrap().into()).await;
            assert_eq!(reply.status, 200, "{}: {}", fixture.command, body_of(&reply));
            assert_eq!(body_of(&reply), json!({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}));

            let (command, event, ctx) = seen.lock().unwrap().pop().expect("the handler ran");
            assert_eq!(command, fixture.command);
            assert_eq!(event["EventTime"], json!(time), "{command}: EventTime decoded to its value");
            assert_eq!(event["CallbackCommand"], json!(fixture.command));
            assert_eq!(ctx.app_id(), APP_ID);
            assert_eq!(ctx.client_ip(), Some("203.0.113.7"));
            assert_eq!(ctx.platform(), Some(&ClientPlatform::Ios));
            assert_eq!(ctx.request_time(), Some(NOW));
            assert_eq!(ctx.request_id(), Some("52c68065-ed12-41c1-8661-045ea5d16695"));
            assert_eq!(serde_json::from_slice::<Value>(ctx.raw_body()).unwrap(), variant, "raw body kept");
        }
    }
}

/// Every fixture of every command, through a dispatcher whose fallback decodes with `Event`.
#[tokio::test]
async fn every_fixture_reaches_a_typed_event_through_the_dispatcher() {
    let decoded = Arc::new(Mutex::new(Vec::new()));
    let sink = decoded.clone();
    let dispatcher = Dispatcher::builder()
        .app_id(APP_ID)
        .token(TOKEN)
        .clock(|| UNIX_EPOCH + Duration::from_secs(NOW))
        .fallback(move |_event: UnhandledEvent, ctx: Context| {
            let sink = sink.clone();
            async move {
                let event = Event::from_json(ctx.command(), ctx.raw_body())?;
                event.command().ok_or("unknown command")?;
                sink.lock().unwrap().push(event);
                Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
            }
        })
        .build()
        .unwrap();
    for fixture in fixtures() {
        let mut body = fixture.sample_json();
        body["AddedByTheVendorLater"] = json!(["ignored"]);
        let reply =
            dispatcher.dispatch(&signed_query(&fixture.command, NOW), serde_json::to_vec(&body).unwrap().into()).await;
        assert_eq!(reply.status, 200, "{}: {}", fixture.command, body_of(&reply));
        let event = decoded.lock().unwrap().pop().unwrap();
        assert_eq!(event.command().map(Command::name), Some(fixture.command.as_str()));
    }
}

#[tokio::test]
async fn the_typed_event_carries_every_field() {
    let seen = Arc::new(Mutex::new(None));
    let sink = seen.clone();
    let dispatcher = Dispatcher::builder()
        .accept_any_app_id()
        .on::<group::AfterCreateGroup, _>(move |event, _ctx| {
            let sink = sink.clone();
            async move { *sink.lock().unwrap() = Some(event) }
        })
        .build()
        .unwrap();
    let query = format!("SdkAppid=1&CallbackCommand={CREATE}");
    let reply = dispatcher.dispatch(&query, serde_json::to_vec(&sample(CREATE)).unwrap().into()).await;
    assert_eq!(reply.status, 200);
    let event = seen.lock().unwrap().take().unwrap();
    assert_eq!(event.group_id, "@TGS#2J4SZEAEL");
    assert_eq!(event.type_, GroupType::Public);
    assert_eq!(event.owner_account, "leckie");
    assert_eq!(event.event_time.map(u64::from), Some(1670574414123));
    let members: Vec<&str> = event.member_list.iter().flatten().map(|m| m.member_account.as_str()).collect();
    assert_eq!(members, ["bob", "peter"]);
    assert_eq!(event.user_defined_data_list.unwrap()[1].value, "world");
}

#[tokio::test]
async fn authentication_failures_get_401() {
    let (dispatcher, seen) = dispatcher();
    let body = serde_json::to_vec(&sample(CREATE)).unwrap();
    let base = format!("SdkAppid={APP_ID}&CallbackCommand={CREATE}&contenttype=json");
    let good = sign(TOKEN, NOW);
    let cases = [
        (base.clone(), "missing `Sign` or `RequestTime`"),
        (format!("{base}&RequestTime={NOW}"), "missing `Sign` or `RequestTime`"),
        (format!("{base}&Sign={good}"), "missing `Sign` or `RequestTime`"),
        (format!("{base}&Sign={}&RequestTime={NOW}", sign("wrong-token", NOW)), "`Sign` does not match"),
        (format!("{base}&Sign={}&RequestTime={NOW}", good.to_uppercase()), "`Sign` does not match"),
        (format!("{base}&Sign={}&RequestTime={NOW}", &good[..32]), "`Sign` does not match"),
        (format!("{base}&Sign=&RequestTime={NOW}"), "`Sign` does not match"),
        // The signature of another time does not verify this one.
        (format!("{base}&Sign={}&RequestTime={NOW}", sign(TOKEN, NOW - 1)), "`Sign` does not match"),
        (format!("{base}&Sign={}&RequestTime={}", sign(TOKEN, NOW - 61), NOW - 61), "61 s away"),
        (format!("{base}&Sign={}&RequestTime={}", sign(TOKEN, NOW + 61), NOW + 61), "61 s away"),
        (format!("{base}&Sign={good}&RequestTime=soon"), "`RequestTime` is not a Unix time"),
        (format!("{base}&Sign={good}&RequestTime=-{NOW}"), "`RequestTime` is not a Unix time"),
    ];
    for (query, info) in cases {
        assert_refused(&dispatcher, &query, &body, 401, info).await;
    }
    assert!(seen.lock().unwrap().is_empty(), "no handler ran");

    // Within the window either way, it passes.
    for time in [NOW - 60, NOW + 60] {
        let reply = dispatcher.dispatch(&signed_query(CREATE, time), body.clone().into()).await;
        assert_eq!(reply.status, 200, "{}", body_of(&reply));
    }
}

#[tokio::test]
async fn the_window_is_configurable_and_can_be_turned_off() {
    let seen = Seen::default();
    let body = serde_json::to_vec(&sample(CREATE)).unwrap();
    let old = signed_query(CREATE, NOW - 3600);
    let narrow = builder(&seen).max_clock_skew(Some(Duration::from_secs(10))).build().unwrap();
    assert_refused(&narrow, &signed_query(CREATE, NOW - 11), &body, 401, "at most 10 s").await;
    let off = builder(&seen).max_clock_skew(None).build().unwrap();
    assert_eq!(off.dispatch(&old, body.into()).await.status, 200);
}

#[tokio::test]
async fn without_a_token_sign_is_not_required() {
    let dispatcher = Dispatcher::builder().app_id(APP_ID).build().unwrap();
    let query = format!("SdkAppid={APP_ID}&CallbackCommand={CREATE}");
    let reply = dispatcher.dispatch(&query, serde_json::to_vec(&sample(CREATE)).unwrap().into()).await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn the_app_id_must_be_ours() {
    let (dispatcher, _) = dispatcher();
    let body = serde_json::to_vec(&sample(CREATE)).unwrap();
    let query = signed_query(CREATE, NOW);
    let other = query.replace(&format!("SdkAppid={APP_ID}"), "SdkAppid=1400000001");
    assert_refused(&dispatcher, &other, &body, 403, "SdkAppid `1400000001` is not this app's").await;
    let missing = query.replace(&format!("SdkAppid={APP_ID}&"), "");
    assert_refused(&dispatcher, &missing, &body, 400, "missing query parameter `SdkAppid`").await;
    let garbage = query.replace(&format!("SdkAppid={APP_ID}"), "SdkAppid=14e8");
    assert_refused(&dispatcher, &garbage, &body, 400, "`SdkAppid` is invalid").await;
    let repeated = format!("{query}&SdkAppid={APP_ID}");
    assert_refused(&dispatcher, &repeated, &body, 400, "`SdkAppid` appears more than once").await;

    let any = Dispatcher::builder().accept_any_app_id().build().unwrap();
    let reply = any.dispatch(&other, body.into()).await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn a_body_of_another_command_is_refused() {
    let (dispatcher, seen) = dispatcher();
    for fixture in fixtures().into_iter().filter(|f| RECORDED.contains(&f.command.as_str())) {
        let tagged = |o: &tests::Fixture| o.sample_json().get("CallbackCommand").is_some();
        for other in fixtures().into_iter().filter(|o| o.command != fixture.command && tagged(o)) {
            let query = signed_query(&fixture.command, NOW);
            let info = format!(
                "the body's CallbackCommand `{}` differs from the query's `{}`",
                other.command, fixture.command
            );
            assert_refused(&dispatcher, &query, &other.sample, 400, &info).await;
        }
    }
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_body_that_does_not_decode_names_the_failing_field() {
    let (dispatcher, seen) = dispatcher();
    let query = signed_query(CREATE, NOW);
    let mut wrong_member = sample(CREATE);
    wrong_member["MemberList"][1]["Member_Account"] = json!(42);
    let mut missing = sample(CREATE);
    missing.as_object_mut().unwrap().remove("Owner_Account");
    let mut bad_time = sample(CREATE);
    bad_time["EventTime"] = json!("12:00");
    let mut no_command = sample(CREATE);
    no_command.as_object_mut().unwrap().remove("CallbackCommand");
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (serde_json::to_vec(&wrong_member).unwrap(), "at `MemberList[1].Member_Account`: invalid type: integer `42`"),
        (serde_json::to_vec(&missing).unwrap(), "missing field `Owner_Account`"),
        (serde_json::to_vec(&bad_time).unwrap(), "at `EventTime`: invalid value: string \"12:00\""),
        (serde_json::to_vec(&no_command).unwrap(), "missing field `CallbackCommand`"),
        (b"{\"CallbackCommand\": \"Group.CallbackAfterCreateGroup\",".to_vec(), "EOF while parsing"),
        (b"".to_vec(), "EOF while parsing"),
        (b"[1, 2]".to_vec(), "at `.`: expected a JSON object"),
        (b"42".to_vec(), "at `.`: expected a JSON object"),
        (vec![0xff, 0xfe, b'{'], "at `.`: expected a JSON object"),
        (b"{\"CallbackCommand\": \"\xff\"}".to_vec(), "invalid unicode code point"),
        (format!("{} trailing", serde_json::to_string(&sample(CREATE)).unwrap()).into_bytes(), "trailing characters"),
        // Deep nesting neither overflows the stack nor is rejected for its depth where it is ignored.
        (
            format!("{{\"Unknown\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(),
            "missing field `CallbackCommand`",
        ),
        (
            format!("{{\"MemberList\":{}", "[".repeat(100_000)).into_bytes(),
            "at `MemberList[0][0]`: invalid type: sequence",
        ),
    ];
    for (body, info) in cases {
        assert_refused(&dispatcher, &query, &body, 400, info).await;
    }
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn unknown_values_and_platform_spellings_decode() {
    let (dispatcher, seen) = dispatcher();
    let mut body = sample(CREATE);
    body["Type"] = json!("SuperGroup");
    let cases = [
        ("iOS", ClientPlatform::Ios),
        ("IOS", ClientPlatform::Ios),
        ("Mac", ClientPlatform::MacOs),
        ("macOS", ClientPlatform::MacOs),
        ("RESTAPI", ClientPlatform::RestApi),
        ("Vision", ClientPlatform::Other("Vision".into())),
    ];
    for (platform, expected) in cases {
        let query = signed_query(CREATE, NOW).replace("OptPlatform=iOS", &format!("OptPlatform={platform}"));
        let reply = dispatcher.dispatch(&query, serde_json::to_vec(&body).unwrap().into()).await;
        assert_eq!(reply.status, 200, "{}", body_of(&reply));
        let (_, event, ctx) = seen.lock().unwrap().pop().unwrap();
        assert_eq!(ctx.platform(), Some(&expected));
        assert_eq!(event["Type"], "SuperGroup", "an unknown group type is kept as sent");
    }
    assert_eq!(GroupType::from("SuperGroup"), GroupType::Other("SuperGroup".into()));
}

#[tokio::test]
async fn unknown_and_unhandled_commands_are_acknowledged_or_go_to_the_fallback() {
    let (dispatcher, _) = dispatcher();
    for command in ["C2C.CallbackAfterSendMsg", "Brand.NewCallback"] {
        let reply = dispatcher.dispatch(&signed_query(command, NOW), b"not even json".to_vec().into()).await;
        assert_eq!(
            (reply.status.as_u16(), body_of(&reply)),
            (200, json!({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}))
        );
    }
    let missing = signed_query(CREATE, NOW).replace(&format!("CallbackCommand={CREATE}&"), "");
    assert_refused(&dispatcher, &missing, b"{}", 400, "missing query parameter `CallbackCommand`").await;

    let unhandled = Arc::new(Mutex::new(Vec::new()));
    let sink = unhandled.clone();
    let with_fallback = Dispatcher::builder()
        .accept_any_app_id()
        .fallback(move |event: UnhandledEvent, _ctx: Context| {
            let sink = sink.clone();
            async move { sink.lock().unwrap().push(event) }
        })
        .build()
        .unwrap();
    let query = "SdkAppid=1&CallbackCommand=Brand.NewCallback";
    let reply =
        with_fallback.dispatch(query, br#"{"CallbackCommand":"Brand.NewCallback","X":1}"#.to_vec().into()).await;
    assert_eq!(reply.status, 200);
    let event = unhandled.lock().unwrap().pop().unwrap();
    assert_eq!(event.command, "Brand.NewCallback");
    assert_eq!(event.body, json!({"CallbackCommand": "Brand.NewCallback", "X": 1}));
    assert_refused(&with_fallback, query, b"{oops", 400, "the body is not a valid `Brand.NewCallback`").await;
}

#[tokio::test]
async fn handler_errors_and_panics_become_fail_replies_and_the_dispatcher_keeps_serving() {
    let dispatcher = Dispatcher::builder()
        .accept_any_app_id()
        .on::<group::AfterCreateGroup, _>(|event: group::AfterCreateGroup, _| async move {
            match event.name.as_str() {
                "panic" => panic!("handler bug"),
                "error" => Err("the database is down"),
                _ => Ok(()),
            }
        })
        .on::<group::AfterChangeGroupOwner, _>(
            |_: group::AfterChangeGroupOwner, _: Context| -> std::future::Ready<()> {
                panic!("panics before returning a future")
            },
        )
        .build()
        .unwrap();
    let query = format!("SdkAppid=1&CallbackCommand={CREATE}");
    let with_name = |name: &str| {
        let mut body = sample(CREATE);
        body["Name"] = json!(name);
        serde_json::to_vec(&body).unwrap()
    };
    // The handler's own words go to the log; the caller learns only the request id.
    assert_refused(&dispatcher, &query, &with_name("panic"), 500, "the callback could not be handled (request ").await;
    assert_refused(&dispatcher, &query, &with_name("error"), 500, "the callback could not be handled (request ").await;
    let reply = dispatcher.dispatch(&format!("{query}&RequestID=abc-123"), with_name("error").into()).await;
    assert_eq!(body_of(&reply)["ErrorInfo"], "the callback could not be handled (request abc-123)");
    assert_eq!(dispatcher.dispatch(&query, with_name("fine").into()).await.status, 200);
    let owner = "SdkAppid=1&CallbackCommand=Group.CallbackAfterChangeGroupOwner";
    let body = serde_json::to_vec(&sample("Group.CallbackAfterChangeGroupOwner")).unwrap();
    assert_refused(&dispatcher, owner, &body, 500, "the callback could not be handled").await;
}

#[tokio::test]
async fn an_oversized_body_gets_413() {
    let dispatcher = Dispatcher::builder().accept_any_app_id().max_body_bytes(100).build().unwrap();
    let query = format!("SdkAppid=1&CallbackCommand={CREATE}");
    assert_refused(&dispatcher, &query, &[b' '; 101], 413, "larger than the limit of 100 bytes").await;
}

#[test]
fn misconfiguration_fails_the_build() {
    assert_eq!(Dispatcher::builder().build().unwrap_err(), BuildError::AppIdNotSet);
    assert_eq!(Dispatcher::builder().accept_any_app_id().token("").build().unwrap_err(), BuildError::EmptyToken);
    let twice = Dispatcher::builder()
        .app_id(1)
        .on::<group::AfterCreateGroup, _>(|_, _| async {})
        .on::<group::AfterCreateGroup, _>(|_, _| async {})
        .build();
    assert_eq!(twice.unwrap_err(), BuildError::DuplicateHandler(CREATE));
}

#[test]
fn every_error_knows_its_status() {
    let cases = [
        (QueryError::Missing("SdkAppid").into(), 400),
        (DecodeError::invalid_body("Brand.New", "not JSON").into(), 400),
        (SignatureError::Missing.into(), 401),
        (DispatchError::WrongAppId(1.into()), 403),
        (DispatchError::SourceNotAllowed { address: Some([203, 0, 113, 9].into()) }, 403),
        (DispatchError::SourceNotAllowed { address: None }, 403),
        (DispatchError::RequestTimeout, 408),
        (SignatureError::BadSignature.into(), 401),
        (DispatchError::InFlightElsewhere, 409),
        (DispatchError::BodyTooLarge { limit: 1 }, 413),
        (HandlerError::Panicked.into(), 500),
        (HandlerError::Failed("boom".into()).into(), 500),
        (DispatchError::Overloaded, 503),
        (DispatchError::DedupUnavailable("down".into()), 503),
        (DispatchError::Undecided, 503),
        (DispatchError::DeadlineMissed, 504),
    ];
    for (error, status) in cases {
        let error: DispatchError = error;
        assert_eq!(HttpReply::from(&error).status, status, "{error}");
        assert_eq!(error.reply().error_info, error.to_string());
    }
}

/// Code written against 0.1 still compiles, with a deprecation warning: `Response` is `Reply`.
#[test]
#[allow(deprecated)]
fn the_old_name_of_reply_still_compiles() {
    use tencent_chat_callbacks::{Reply, Response};
    let old: Response = Response::fail(1, "no");
    assert_eq!(old, Reply::fail(1, "no"));
    assert_eq!(Response::ok(), Reply::ok());
}

/// A `Refusal` gets the dispatcher's answer for its reason; any other error, a `DispatchError`
/// included, is the handler's failure (500, with a generic `ErrorInfo`).
#[tokio::test]
async fn a_handler_refuses_with_a_refusal_and_fails_with_anything_else() {
    let refusing = Dispatcher::builder()
        .accept_any_app_id()
        .fallback(|event: UnhandledEvent, _: Context| async move {
            Err::<(), Refusal>(Refusal::invalid_body(event.command, "not mine"))
        })
        .build()
        .unwrap();
    assert_refused(&refusing, "SdkAppid=1&CallbackCommand=Brand.New", b"{}", 400, "at `.`: not mine").await;

    let failing = Dispatcher::builder()
        .accept_any_app_id()
        .fallback(|_: UnhandledEvent, _: Context| async move { Err::<(), DispatchError>(DispatchError::Overloaded) })
        .build()
        .unwrap();
    assert_refused(&failing, "SdkAppid=1&CallbackCommand=Brand.New", b"{}", 500, "the callback could not be handled")
        .await;
}
