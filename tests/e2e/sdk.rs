//! The official Svix SDKs drive Herald unchanged: PyPI `svix` 2.x and 1.x and npm
//! `svix` run their flows (tests/sdk/) against a real Herald, and every delivery the
//! flows caused verifies with the SDKs' own verifiers and with `standardwebhooks`.

use std::collections::HashSet;
use std::time::Duration;

use herald_e2e::sdk::{self, Sdk};
use herald_e2e::{eventually, verifier, RecordedRequest, TestApp, TestReceiver};
use serde_json::Value;

fn strings(summary: &Value, key: &str) -> Vec<String> {
    summary[key]
        .as_array()
        .unwrap_or_else(|| panic!("`{key}` in {summary}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

fn path_of(url: &str) -> String {
    let url = url::Url::parse(url).expect("an endpoint URL");
    url.path().to_owned()
}

async fn run(sdk: Sdk) {
    let app = TestApp::spawn().await;
    let receiver = TestReceiver::start().await;
    let server = format!("http://{}", app.address);
    let summary = sdk::run_flow(sdk, &server, &app.api_key, &receiver.url("")).await;

    // Endpoint A (filtered by event type) got exactly the messages the flow meant for it.
    let endpoint_path = path_of(summary["endpoint_url"].as_str().expect("endpoint_url"));
    let endpoint_id = summary["endpoint_id"].as_str().expect("endpoint_id");
    let expected: HashSet<String> = strings(&summary["msg_ids_for_endpoint"], endpoint_id).into_iter().collect();
    let to_a = |requests: Vec<RecordedRequest>| -> Vec<RecordedRequest> {
        requests.into_iter().filter(|r| r.path == endpoint_path).collect()
    };
    let delivered = eventually(Duration::from_secs(20), "every message for endpoint A", || {
        let requests = to_a(receiver.requests());
        let ids: HashSet<String> = requests.iter().filter_map(|r| r.header("webhook-id").map(str::to_owned)).collect();
        let complete = expected.is_subset(&ids);
        async move { complete.then_some(requests) }
    })
    .await;
    let seen: HashSet<&str> = delivered.iter().filter_map(|r| r.header("webhook-id")).collect();
    let filtered = summary["filtered_msg_id"].as_str().expect("filtered_msg_id");
    assert!(!seen.contains(filtered), "the message of a filtered-out event type reached endpoint A");
    if let Some(headers) = summary["custom_headers"].as_object() {
        for (name, value) in headers {
            assert!(
                delivered.iter().all(|r| r.header(name) == value.as_str()),
                "custom header {name} missing from a delivery"
            );
        }
    }

    // Every delivery verifies with the old secret (within the rotation's grace period
    // the old secret still signs); those sent after the rotation verify with the new one too.
    let old_secret = summary["secret"].as_str().expect("secret");
    let new_secret = summary["rotated_secret"].as_str().expect("rotated_secret");
    let cases = sdk::verify_cases(old_secret, &delivered);
    sdk::verify(sdk, &cases).expect("the SDK's verifier accepts every delivery");
    verifier::verify_with_standardwebhooks(old_secret, &delivered).expect("standardwebhooks accepts every delivery");
    let rotated: Vec<RecordedRequest> = delivered
        .iter()
        .filter(|r| r.header("webhook-signature").is_some_and(|s| s.split(' ').count() == 2))
        .cloned()
        .collect();
    assert!(!rotated.is_empty(), "the resend after the rotation carries both signatures");
    sdk::verify(sdk, &sdk::verify_cases(new_secret, &rotated)).expect("the rotated secret verifies");

    app.stop().await;
}

#[tokio::test]
async fn python_sdk_2_drives_herald_unchanged() {
    run(Sdk::PythonV2).await;
}

#[tokio::test]
async fn python_sdk_1_drives_herald_unchanged() {
    run(Sdk::PythonV1).await;
}

#[tokio::test]
async fn javascript_sdk_drives_herald_unchanged() {
    run(Sdk::Js).await;
}
