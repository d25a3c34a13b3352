//! Every input `docs/openapi.json` allows to be wrong gets a 4xx with a code, never a
//! 5xx: schemathesis generates requests from the document against a real Herald.
//!
//! Two passes, each bounded: one with generated path parameters (mostly unknown
//! objects), one with the path parameters fixed to objects that exist, so the
//! generated bodies and queries reach the handlers' deeper checks.

use std::path::PathBuf;
use std::time::Duration;

use herald_e2e::fuzz::run_schemathesis;
use herald_e2e::{eventually, services, TestApp, TestReceiver};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_requests_never_get_a_server_error() {
    let herald = TestApp::spawn().await;
    let receiver = TestReceiver::start().await;
    // Pass 2 pins ids, not uids: a generated PUT or PATCH may change a uid.
    let app_id = herald.create_application("fuzz-app").await["id"].as_str().unwrap().to_owned();
    let endpoint = herald.create_endpoint("fuzz-app", &receiver.url("/hook"), json!({"uid": "fuzz-ep"})).await;
    let endpoint_id = endpoint["id"].as_str().unwrap().to_owned();
    let (status, _) = herald.post("/api/v1/event-type", &json!({"name": "fuzz.type", "description": "d"})).await;
    assert_eq!(status, 201);
    let (status, message) = herald
        .post("/api/v1/app/fuzz-app/msg", &json!({"eventType": "fuzz.type", "eventId": "fuzz-msg", "payload": {}}))
        .await;
    assert_eq!(status, 202);
    let msg_id = message["id"].as_str().unwrap().to_owned();
    let attempt = eventually(Duration::from_secs(10), "an attempt", || async {
        herald.attempts("fuzz-app", &msg_id).await.first().and_then(|a| a["id"].as_str().map(str::to_owned))
    })
    .await;

    let spec = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json");
    let base = format!("http://{}", herald.address);
    let config = services::target_dir().join(format!("schemathesis-{}.toml", herald.tenant_id));
    std::fs::write(
        &config,
        format!(
            "[parameters]\n\"path.app_id\" = \"{app_id}\"\n\"path.endpoint_id\" = \"{endpoint_id}\"\n\
             \"path.msg_id\" = \"{msg_id}\"\n\"path.attempt_id\" = \"{attempt}\"\n\"path.event_type_name\" = \"fuzz.type\"\n"
        ),
    )
    .unwrap();
    let key = herald.api_key.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        // Deleting the fixed application or endpoint would turn the rest of the pass into 404s.
        let keep = ["--exclude-method", "DELETE", "--exclude-path-regex", "^/admin"];
        run_schemathesis(&spec, &base, &key, None, &["--exclude-path-regex", "^/admin"], 15)?;
        run_schemathesis(&spec, &base, &key, Some(&config), &keep, 15)
    })
    .await
    .unwrap();
    let _ = std::fs::remove_file(services::target_dir().join(format!("schemathesis-{}.toml", herald.tenant_id)));
    if let Err(output) = outcome {
        panic!("schemathesis found requests Herald answered badly:\n{output}");
    }
    herald.stop().await;
}
