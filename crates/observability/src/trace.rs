//! One trace per message, across processes and time.
//!
//! The API's `message.create` span is the root of a message's trace. Its context
//! (W3C `traceparent`) is stored with the message, so whichever worker attempts a
//! delivery later, minutes or hours after and after any restart, continues the same
//! trace: a `queue.wait` span from acceptance to the attempt's start, then the
//! `attempt` span. With no exporter configured every function here is a cheap no-op
//! and nothing is stored.

use std::collections::HashMap;
use std::time::SystemTime;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{Span as _, TraceContextExt, Tracer as _};
pub use opentelemetry::KeyValue;
use opentelemetry::{global, Context};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The `traceparent` of `span`, when it is part of a sampled trace.
pub fn traceparent_of(span: &tracing::Span) -> Option<String> {
    let context = span.context();
    if !context.span().span_context().is_sampled() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove("traceparent")
}

fn context_of(traceparent: &str) -> Context {
    let carrier = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    TraceContextPropagator::new().extract(&carrier)
}

/// Makes `span` a child of the stored trace context (no-op without one).
pub fn continue_trace(span: &tracing::Span, traceparent: Option<&str>) {
    if let Some(traceparent) = traceparent {
        let _ = span.set_parent(context_of(traceparent));
    }
}

/// Records the time a delivery waited in the queue, from `accepted` until now, as a
/// finished `queue.wait` span in the message's trace.
pub fn record_queue_wait(traceparent: Option<&str>, accepted: SystemTime, attributes: impl FnOnce() -> Vec<KeyValue>) {
    let Some(traceparent) = traceparent else { return };
    let parent = context_of(traceparent);
    let tracer = global::tracer("herald");
    let mut span = tracer
        .span_builder("queue.wait")
        .with_start_time(accepted)
        .with_attributes(attributes())
        .start_with_context(&tracer, &parent);
    span.end();
}
