//! Reads a Herald polling endpoint through the `svix` crate's `message().poller()`:
//! the reads of `tests/sdk/python/sdk_poller.py` (poll paged by two, `consumer_poll`
//! read twice without committing and then committed with each iterator,
//! `consumer_seek`, a forged iterator refused), checked against `HERALD_SDK_EXPECTED`.
//! Prints one JSON line with the ids each read returned; exits 1 on the first check
//! that fails.

use std::env;

use serde_json::{json, Value};
use svix::api::{
    MessagePollerConsumerPollOptions as ConsumerOptions, MessagePollerPollOptions as PollOptions, Svix, SvixOptions,
};
use svix::models::{PollingEndpointConsumerSeekIn, PollingEndpointOut};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn var(name: &str) -> String {
    env::var(name).unwrap_or_else(|_| panic!("environment variable {name} is not set"))
}

fn check(ok: bool, what: String) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(what.into())
    }
}

fn strings(value: &Value) -> Vec<String> {
    value.as_array().map(|list| list.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

fn ids(page: &PollingEndpointOut) -> Vec<String> {
    page.data.iter().map(|m| m.id.clone()).collect()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    match run().await {
        Ok(summary) => println!("{summary}"),
        Err(error) => {
            eprintln!("[rust-svix-poller] FAIL {error}");
            std::process::exit(1);
        }
    }
}

async fn run() -> Result<Value> {
    let options = SvixOptions { server_url: Some(var("HERALD_SDK_SERVER_URL")), ..SvixOptions::default() };
    let client = Svix::new(var("HERALD_SDK_TOKEN"), Some(options));
    let message = client.message();
    let poller = message.poller();
    let (app, sink) = (var("HERALD_SDK_APP_ID"), var("HERALD_SDK_POLLER_ID"));
    let expected: Value = serde_json::from_str(&var("HERALD_SDK_EXPECTED"))?;
    let all = strings(&expected["ids"]);
    let after_seek = strings(&expected["after_seek"]);

    // poll: pages of two until done; from the last iterator, nothing new.
    let (mut polled, mut iterator) = (Vec::new(), None);
    loop {
        let options = PollOptions { limit: Some(2), iterator: iterator.clone(), ..PollOptions::default() };
        let page = poller.poll(app.clone(), sink.clone(), Some(options)).await?;
        check(page.data.len() <= 2, format!("a page of {} with limit 2", page.data.len()))?;
        polled.extend(ids(&page));
        iterator = Some(page.iterator.clone());
        if page.done {
            break;
        }
    }
    check(polled == all, format!("poll: expected {all:?}, got {polled:?}"))?;
    let options = PollOptions { iterator, ..PollOptions::default() };
    let again = poller.poll(app.clone(), sink.clone(), Some(options)).await?;
    check(again.data.is_empty() && again.done, "poll from the last iterator: nothing new".into())?;
    let first = poller.poll(app.clone(), sink.clone(), None).await?;
    let first = first.data.first().ok_or("poll: no first message")?;
    check(first.event_type == "poll.a", format!("a message's eventType: {}", first.event_type))?;
    check(first.payload["n"].as_i64() == Some(0), format!("a message's payload: {}", first.payload))?;

    // consumer_poll: read twice without committing, then commit with each iterator.
    let consumer = "rust-consumer".to_owned();
    let limited = || Some(ConsumerOptions { limit: Some(2), iterator: None });
    let once = poller.consumer_poll(app.clone(), sink.clone(), consumer.clone(), limited()).await?;
    let twice = poller.consumer_poll(app.clone(), sink.clone(), consumer.clone(), limited()).await?;
    check(ids(&once) == all[..2], format!("a new consumer starts at the beginning: {:?}", ids(&once)))?;
    check(ids(&twice) == all[..2], format!("an uncommitted batch is read again: {:?}", ids(&twice)))?;
    let (mut consumed, mut iterator) = (ids(&twice), twice.iterator);
    loop {
        let options = ConsumerOptions { limit: Some(2), iterator: Some(iterator.clone()) };
        let page = poller.consumer_poll(app.clone(), sink.clone(), consumer.clone(), Some(options)).await?;
        consumed.extend(ids(&page));
        iterator = page.iterator.clone();
        if page.done && page.data.is_empty() {
            break;
        }
    }
    check(consumed == all, format!("consumer: expected {all:?}, got {consumed:?}"))?;

    // consumer_seek to the moment: the messages created after it.
    let moment: chrono::DateTime<chrono::Utc> = expected["seek_after"].as_str().ok_or("seek_after")?.parse()?;
    let seek = PollingEndpointConsumerSeekIn::new(moment);
    let seeked = poller.consumer_seek(app.clone(), sink.clone(), consumer.clone(), seek, None).await?;
    check(!seeked.iterator.is_empty(), "seek returns an iterator".into())?;
    let options = Some(ConsumerOptions { limit: Some(50), iterator: None });
    let page = poller.consumer_poll(app.clone(), sink.clone(), consumer, options).await?;
    check(ids(&page) == after_seek, format!("after a seek: expected {after_seek:?}, got {:?}", ids(&page)))?;

    // A forged iterator is a validation error.
    let forged = PollOptions { iterator: Some("bm90LWFuLWl0ZXJhdG9y".into()), ..PollOptions::default() };
    match poller.poll(app, sink, Some(forged)).await {
        Err(svix::error::Error::Validation(content)) if content.status.as_u16() == 422 => {}
        other => return Err(format!("a forged iterator: {other:?}").into()),
    }
    Ok(json!({"sdk": "rust-svix-poller", "poll_ids": polled, "consumer_ids": consumed, "seek_ids": ids(&page)}))
}
