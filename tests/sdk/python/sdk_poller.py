"""Reads a Herald polling endpoint with the official Python SDK (PyPI `svix` 2.x),
through `svix.message.poller` only: `poll`, `consumer_poll`, `consumer_seek`.

    python sdk_poller.py

Environment (besides sdk_common.py's HERALD_SDK_SERVER_URL and HERALD_SDK_TOKEN):
  HERALD_SDK_APP_ID, HERALD_SDK_POLLER_ID  the application and its polling endpoint
  HERALD_SDK_EXPECTED  JSON {"ids": [...every message the poller shows, in feed order],
                             "seek_after": ISO time, "after_seek": [...the ids created after it]}

Called by tests/src/sdk.rs (run_poller). Prints one JSON line: the ids each read returned.
"""

import json
from datetime import datetime

import sdk_common as c
from sdk_common import check, check_eq

import svix  # noqa: E402
from svix.api import (  # noqa: E402
    MessagePollerConsumerPollOptions,
    MessagePollerPollOptions,
    PollingEndpointConsumerSeekIn,
    SvixOptions,
)

NAME = "python-svix-2-poller"
APP = c.env("HERALD_SDK_APP_ID")
POLLER = c.env("HERALD_SDK_POLLER_ID")
EXPECTED = json.loads(c.env("HERALD_SDK_EXPECTED"))
SEEK_AFTER = datetime.fromisoformat(EXPECTED["seek_after"].replace("Z", "+00:00"))
CONSUMER = f"consumer-{c.run_id()}"

client = svix.Svix(c.env("HERALD_SDK_TOKEN"), SvixOptions(server_url=c.env("HERALD_SDK_SERVER_URL")))
poller = client.message.poller
steps = c.Steps(NAME)
out = {"sdk": NAME, "sdk_version": svix.__version__ if hasattr(svix, "__version__") else "2"}


def read_all(read, what):
    """Reads until done; returns the ids and the last iterator."""
    ids, iterator = [], None
    for _ in range(100):
        page = read(iterator)
        check(len(page.data) <= 2, f"{what}: a page of {len(page.data)} with limit 2")
        ids.extend(m.id for m in page.data)
        iterator = page.iterator
        if page.done:
            return ids, iterator
    raise c.CheckFailed(f"{what}: not done after 100 pages")


def poll_everything():
    ids, last = read_all(
        lambda it: poller.poll(APP, POLLER, MessagePollerPollOptions(limit=2, iterator=it)), "poll"
    )
    check_eq(ids, EXPECTED["ids"], "poll: every message the poller shows, in order")
    again = poller.poll(APP, POLLER, MessagePollerPollOptions(iterator=last))
    check_eq([m.id for m in again.data], [], "poll from the last iterator: nothing new")
    check(again.done, "poll from the last iterator: done")
    first = poller.poll(APP, POLLER, MessagePollerPollOptions(limit=1)).data[0]
    check_eq(first.event_type, "poll.a", "a message's eventType")
    check(isinstance(first.payload, dict) and "n" in first.payload, f"a message's payload: {first.payload!r}")
    out["poll_ids"] = ids


def consumer_reads_at_least_once():
    options = MessagePollerConsumerPollOptions(limit=2)
    first = poller.consumer_poll(APP, POLLER, CONSUMER, options)
    check_eq([m.id for m in first.data], EXPECTED["ids"][:2], "a new consumer starts at the beginning")
    # No iterator sent back: nothing was committed, so the same batch comes again.
    again = poller.consumer_poll(APP, POLLER, CONSUMER, options)
    check_eq([m.id for m in again.data], EXPECTED["ids"][:2], "an uncommitted batch is read again")
    ids, last = [m.id for m in again.data], again.iterator
    while True:
        page = poller.consumer_poll(APP, POLLER, CONSUMER, MessagePollerConsumerPollOptions(limit=2, iterator=last))
        ids.extend(m.id for m in page.data)
        last = page.iterator
        if page.done and not page.data:
            break
    check_eq(ids, EXPECTED["ids"], "the consumer reads every message once after the first batch")
    resumed = poller.consumer_poll(APP, POLLER, CONSUMER, MessagePollerConsumerPollOptions(limit=2))
    check_eq([m.id for m in resumed.data], [], "a consumer that committed everything resumes at the end")
    out["consumer_ids"] = ids


def seek_moves_the_consumer():
    seeked = poller.consumer_seek(APP, POLLER, CONSUMER, PollingEndpointConsumerSeekIn(after=SEEK_AFTER))
    check(seeked.iterator, "seek returns an iterator")
    page = poller.consumer_poll(APP, POLLER, CONSUMER, MessagePollerConsumerPollOptions(limit=50))
    check_eq([m.id for m in page.data], EXPECTED["after_seek"], "after a seek: the messages created after it")
    by_time = poller.poll(APP, POLLER, MessagePollerPollOptions(limit=50, after=SEEK_AFTER))
    check_eq([m.id for m in by_time.data], EXPECTED["after_seek"], "poll with after=")
    out["seek_ids"] = [m.id for m in page.data]


def forged_iterator_is_refused():
    try:
        poller.poll(APP, POLLER, MessagePollerPollOptions(iterator="bm90LWFuLWl0ZXJhdG9y"))
    except Exception as error:  # noqa: BLE001 - the status is what is checked
        check_eq(c.http_status(error), 422, "a forged iterator")
        return
    raise c.CheckFailed("a forged iterator was accepted")


steps.run("poll pages through every message", poll_everything)
steps.run("consumer_poll reads at least once and commits with the iterator", consumer_reads_at_least_once)
steps.run("consumer_seek and poll(after=) start at a time", seek_moves_the_consumer)
steps.run("a forged iterator is refused", forged_iterator_is_refused)
steps.finish(out)
