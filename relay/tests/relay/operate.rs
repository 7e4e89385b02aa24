//! `docs/relay.md` as it is: its systemd unit's `ExecStart` line with its environment file, and its
//! Kubernetes Deployment's `args` and `env`, run the binary (their addresses replaced by free
//! loopback ones, a real `redis-server` and a real service), and the probes' paths answer.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use tests::servers::{RedisServer, ScratchDir, free_port};

use crate::service::{Language, Service};
use crate::support::{Relay, get};

fn page() -> String {
    std::fs::read_to_string(tests::workspace_root().join("docs/relay.md")).expect("docs/relay.md")
}

/// Replaces each `from` in `text` by its `to`, failing when the page no longer has it.
fn replaced(text: &str, substitutions: &[(&str, String)]) -> String {
    let mut text = text.to_owned();
    for (from, to) in substitutions {
        assert!(text.contains(from), "docs/relay.md no longer has `{from}`: update this test");
        text = text.replace(from, to);
    }
    text
}

/// Waits until `path` on `address` answers `status`.
async fn answers(address: SocketAddr, path: &str, status: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let reply = get(address, path).await;
        match reply {
            Some((got, body)) if got == status => return body,
            other if Instant::now() > deadline => panic!("{path}: {other:?}, expected {status}"),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

tests::needs! { [redis, python_webhooks]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_systemd_unit_runs_and_its_admin_address_answers_the_probes() {
        let service = Service::start(Language::Python);
        let mut redis = RedisServer::start();
        let page = page();
        let dir = ScratchDir::new("relay-systemd");
        let admin = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let line = page.lines().find_map(|l| l.strip_prefix("ExecStart=")).expect("an ExecStart line");
        let line = replaced(
            line,
            &[
                ("/usr/local/bin/relay", env!("CARGO_BIN_EXE_relay").to_owned()),
                ("0.0.0.0:8080", "127.0.0.1:0".into()),
                ("127.0.0.1:9090", admin.to_string()),
                ("redis://127.0.0.1:6379", redis.url()),
                ("http://127.0.0.1:8000/webhooks", service.url()),
                ("/var/lib/tencent-chat-relay", dir.path().display().to_string()),
            ],
        );
        let mut words = line.split_whitespace();
        let mut command = Command::new(words.next().unwrap());
        command.args(words);
        // The environment file, as `EnvironmentFile=` reads it.
        let env_file = page.split("# /etc/tencent-chat-relay/env\n").nth(1).expect("the environment file");
        for assignment in env_file.lines().take_while(|l| !l.starts_with("```")) {
            let (name, value) = assignment.split_once('=').expect("NAME=value");
            command.env(name, value);
        }
        command.env("TENCENT_CHAT_TOKEN", tests::TOKEN).env("TENCENT_CHAT_SDKAPPID", tests::APP_ID.to_string());
        let relay = Relay::spawn(command);

        answers(admin, "/healthz", 200).await;
        answers(admin, "/readyz", 200).await;
        let event = &crate::support::after_events(1)[0];
        assert!(crate::support::is_ok(&crate::support::deliver(relay.address, event).await));
        let deadline = Instant::now() + Duration::from_secs(15);
        while !service.seen().iter().any(|s| s.valid && s.status == 200) {
            assert!(Instant::now() < deadline, "the unit's relay never delivered");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let metrics = answers(admin, "/metrics", 200).await;
        assert!(metrics.contains(r#"relay_delivery_attempts_total{outcome="delivered"} 1"#), "{metrics}");
        redis.kill();
        let reason = answers(admin, "/readyz", 503).await;
        assert!(reason.contains("redis"), "{reason}");
        answers(admin, "/healthz", 200).await;
    }
}

tests::needs! { [redis, node_webhooks]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubernetes_deployment_runs_and_its_probe_paths_answer() {
    let service = Service::start(Language::Node);
    let redis = RedisServer::start();
    let page = page();
    let manifest = page.split("```yaml\n").nth(1).and_then(|m| m.split("```").next()).expect("a manifest");
    let admin_port = free_port();
    let manifest = replaced(
        manifest,
        &[
            ("0.0.0.0:8080", "127.0.0.1:0".into()),
            ("0.0.0.0:9090", format!("127.0.0.1:{admin_port}")),
            ("redis://redis:6379", redis.url()),
            ("http://chat-events:8000/webhooks", service.url()),
        ],
    );
    let field = |line: &str, name: &str| {
        let rest = line.split(&format!("{name}: ")).nth(1)?;
        Some(rest.split([',', '}']).next()?.trim().trim_matches('"').to_owned())
    };
    let args: Vec<String> = manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("args: "))
        .map(|a| serde_json::from_str(a).expect("args as a JSON array"))
        .expect("args");
    let mut env = BTreeMap::new();
    for line in manifest.lines().filter(|l| l.trim().starts_with("- {name: ")) {
        let name = field(line, "name").unwrap();
        env.insert(name, field(line, "value").unwrap_or_else(|| "relay-pod-0".into())); // valueFrom: the pod's name
    }
    let probes: Vec<String> = manifest.lines().filter_map(|l| field(l, "httpGet: {path")).collect();
    assert_eq!(probes, ["/healthz", "/readyz"]);
    assert!(manifest.contains("port: admin") && manifest.contains("{name: admin, containerPort: 9090}"));

    let mut command = Command::new(env!("CARGO_BIN_EXE_relay"));
    command.args(&args).envs(&env);
    // What the secret holds.
    command.env("TENCENT_CHAT_TOKEN", tests::TOKEN).env("TENCENT_CHAT_SDKAPPID", tests::APP_ID.to_string());
    command.env("TENCENT_CHAT_DELIVER_SECRET", crate::service::SECRET);
    let relay = Relay::spawn(command);
    let admin = SocketAddr::from(([127, 0, 0, 1], admin_port));
    for path in &probes {
        answers(admin, path, 200).await;
    }
    let log = relay.log_once_it_has("consumer=relay-pod-0", 1).await;
    assert!(log.contains("consumer=relay-pod-0"), "the pod's name is its consumer name: {log}");
}
}
