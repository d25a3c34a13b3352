//! Herald's OpenAPI document, generated from the route annotations, and a rendered
//! reference page. `docs/openapi.json` is a committed copy: a test fails when it is
//! stale; `herald openapi > docs/openapi.json` refreshes it.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Herald API",
        description = "Herald's `/api/v1` is compatible with Svix's: the official Svix SDKs work against it \
            by changing the server URL. `/admin/v1` is the operator's API.",
        license(name = "Apache-2.0"),
    ),
    modifiers(&SecuritySchemes),
    components(schemas(crate::error::ErrorBody, crate::error::ValidationBody, crate::error::ValidationItem, crate::routes::Ordering)),
    tags(
        (name = "Application", description = "One end customer of a tenant each."),
        (name = "Endpoint", description = "Where an application's messages are delivered."),
        (name = "Message", description = "Events sent to an application."),
        (name = "Message Attempt", description = "Every HTTP try of a delivery."),
        (name = "Dead Letter", description = "Deliveries that exhausted their retries: list, replay (throttled), discard. Herald's addition."),
        (name = "Polling Endpoint", description = "The pull path: read an application's messages with Svix's message.poller routes, with server-kept consumer positions. Managing pollers is Herald's addition."),
        (name = "Event Type", description = "The named events a tenant sends, with optional JSON Schemas."),
        (name = "Authentication", description = "Portal tokens scoped to one application."),
        (name = "Health", description = "Liveness and readiness."),
        (name = "Statistics", description = "The tenant overview: deliveries by state and application over a window. Herald's addition."),
        (name = "Background Tasks", description = "Work that goes on after its request was answered: a paced recover. API keys only."),
        (name = "Audit", description = "Every management action with its actor, target and outcome; API keys only. Herald's addition."),
        (name = "Admin", description = "Tenants, API keys and every tenant's audit log; operator token only."),
    )
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = || SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build());
        components.add_security_scheme("HTTPBearer", bearer());
        components.add_security_scheme("OperatorToken", bearer());
    }
}

/// The complete document, as served and committed.
pub fn document() -> Document {
    let (_, document) = crate::routes::router_with_doc().split_for_parts();
    document
}

/// The document as pretty JSON with a trailing newline, exactly as committed.
pub fn document_json() -> String {
    let mut text = document().to_pretty_json().expect("the OpenAPI document serialises");
    text.push('\n');
    text
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A self-contained HTML reference (no scripts, no network): every operation with
/// its parameters, body and answers, grouped by tag.
pub fn reference_page(document: &Document) -> String {
    let value = serde_json::to_value(document).unwrap_or_default();
    let mut sections: Vec<(String, String)> = Vec::new();
    for (path, item) in value["paths"].as_object().into_iter().flatten() {
        for (method, operation) in item.as_object().into_iter().flatten() {
            let tag = operation["tags"][0].as_str().unwrap_or("Other").to_owned();
            let mut html = format!(
                "<section><h3><code class=m>{}</code> <code>{}</code></h3><p>{}</p>",
                method.to_uppercase(),
                escape(path),
                escape(operation["summary"].as_str().unwrap_or_default())
            );
            if let Some(description) = operation["description"].as_str() {
                html.push_str(&format!("<p>{}</p>", escape(description)));
            }
            let parameters = operation["parameters"].as_array().cloned().unwrap_or_default();
            if !parameters.is_empty() {
                html.push_str("<table><tr><th>parameter</th><th>in</th><th>description</th></tr>");
                for parameter in parameters {
                    html.push_str(&format!(
                        "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                        escape(parameter["name"].as_str().unwrap_or_default()),
                        escape(parameter["in"].as_str().unwrap_or_default()),
                        escape(parameter["description"].as_str().unwrap_or_default())
                    ));
                }
                html.push_str("</table>");
            }
            if let Some(schema) = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str() {
                html.push_str(&format!(
                    "<p>Body: <a href=\"#{0}\">{0}</a></p>",
                    escape(schema.rsplit('/').next().unwrap_or(schema))
                ));
            }
            html.push_str("<ul>");
            for (status, response) in operation["responses"].as_object().into_iter().flatten() {
                let schema = response["content"]["application/json"]["schema"]["$ref"]
                    .as_str()
                    .map(|s| s.rsplit('/').next().unwrap_or(s));
                html.push_str(&format!(
                    "<li><b>{}</b> {}{}</li>",
                    escape(status),
                    escape(response["description"].as_str().unwrap_or_default()),
                    schema.map(|s| format!(" — <a href=\"#{0}\">{0}</a>", escape(s))).unwrap_or_default()
                ));
            }
            html.push_str("</ul></section>");
            sections.push((tag, html));
        }
    }
    let mut body = String::new();
    let mut tags: Vec<String> = sections.iter().map(|(tag, _)| tag.clone()).collect();
    tags.dedup();
    tags.sort();
    tags.dedup();
    for tag in tags {
        body.push_str(&format!("<h2>{}</h2>", escape(&tag)));
        for (_, html) in sections.iter().filter(|(t, _)| *t == tag) {
            body.push_str(html);
        }
    }
    body.push_str("<h2>Schemas</h2>");
    for (name, schema) in value["components"]["schemas"].as_object().into_iter().flatten() {
        let pretty = serde_json::to_string_pretty(schema).unwrap_or_default();
        body.push_str(&format!(
            "<section id=\"{0}\"><h3>{0}</h3><pre>{1}</pre></section>",
            escape(name),
            escape(&pretty)
        ));
    }
    format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content=\"width=device-width\">\
         <title>Herald API reference</title><style>body{{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:auto;padding:1rem}}\
         code.m{{font-weight:bold}}section{{border-top:1px solid #ddd;padding:.5rem 0}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ddd;padding:.2rem .5rem;text-align:left}}pre{{background:#f6f6f6;padding:.5rem;overflow:auto}}</style>\
         </head><body><h1>Herald API reference</h1><p>The machine-readable document: <a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a>.</p>{body}</body></html>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed `docs/openapi.json` must match the code. When this fails, run
    /// `HERALD_UPDATE_OPENAPI=1 cargo test -p herald-api openapi` (or
    /// `herald openapi > docs/openapi.json`) and commit the result.
    #[test]
    fn committed_openapi_document_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
        let current = document_json();
        if std::env::var_os("HERALD_UPDATE_OPENAPI").is_some() {
            std::fs::write(&path, &current).expect("write docs/openapi.json");
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == current,
            "docs/openapi.json is stale; run `HERALD_UPDATE_OPENAPI=1 cargo test -p herald-api openapi` and commit it"
        );
    }

    #[test]
    fn every_svix_operation_is_documented() {
        let value = serde_json::to_value(document()).unwrap();
        let ids: Vec<&str> = value["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|item| item.as_object().unwrap().values())
            .filter_map(|operation| operation["operationId"].as_str())
            .collect();
        for expected in [
            "v1.application.list",
            "v1.endpoint.rotate-secret",
            "v1.message.create",
            "v1.message-attempt.resend",
            "v1.authentication.logout",
        ] {
            assert!(ids.contains(&expected), "{expected} missing from {ids:?}");
        }
        let page = reference_page(&document());
        assert!(page.contains("/api/v1/app/{app_id}/msg"));
    }
}
