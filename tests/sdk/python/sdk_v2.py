"""Drives Herald's /api/v1 with the official Python SDK, PyPI `svix` 2.x, through the SDK only.

    python sdk_v2.py          run the whole flow; prints one JSON line for the harness
    python sdk_v2.py verify   stdin [{"secret","body","headers"}] -> svix.webhooks.Webhook(secret).verify

Environment: see sdk_common.py. Called by tests/src/sdk.rs (run_python_v2).

The JSON line on stdout:
  sdk, sdk_version, run
  app_id, app_uid, app_ids (the ones this run created, application list paging)
  endpoint_id, endpoint_url            endpoint A: eventTypes filter [type_a, type_b], channels
                                       ["project-1"], metadata, throttleRate, custom headers
  other_endpoint_id, other_endpoint_url, other_secret
                                       endpoint B: no filter, no channels (gets every message)
  secret                               endpoint A's secret before rotation
  rotated_secret                       endpoint A's secret after rotation (resend is signed with it)
  custom_headers                       headers endpoint A's deliveries must carry
  msg_ids                              every message created, in order (A and B both get them...)
  msg_ids_for_endpoint                 {endpoint_id: [msg ids that endpoint must receive]}
  filtered_msg_id                      ...except this one (type_c, no channel): only endpoint B
  event_ids                            the eventIds sent (one was sent twice: same message back;
                                       msg_ids[1] was also sent twice with one idempotency-key)
  resent_msg_id                        resent to endpoint A after rotation (A receives it twice)
  event_types                          {"a": ..., "b": ..., "c": ...}
"""

import sys
import time
from datetime import datetime, timedelta, timezone

import sdk_common as c
from sdk_common import check, check_eq

NAME = "python-svix-2"

if len(sys.argv) > 1 and sys.argv[1] == "verify":
    c.verify_main(NAME)
    sys.exit(0)

import svix  # noqa: E402
from svix.api import (  # noqa: E402
    ApplicationIn,
    ApplicationListOptions,
    ApplicationTokenExpireIn,
    BackgroundTaskListOptions,
    BulkExpungeContentsIn,
    BulkReplayIn,
    EndpointGetStatsOptions,
    EndpointHeadersIn,
    EndpointHeadersPatchIn,
    EndpointIn,
    EndpointListOptions,
    EndpointPatch,
    EndpointSecretRotateIn,
    EndpointUpsertIn,
    EventTypeImportOpenApiIn,
    EventTypeIn,
    EventTypeListOptions,
    EventTypePatch,
    EventTypeUpsertIn,
    MessageAttemptListAttemptedDestinationsOptions,
    MessageAttemptListAttemptedMessagesOptions,
    MessageAttemptListByEndpointOptions,
    MessageAttemptListByMsgOptions,
    MessageCreateOptions,
    MessageGetOptions,
    MessageIn,
    MessageListOptions,
    MessagePrecheckIn,
    OperationalWebhookEndpointHeadersIn,
    OperationalWebhookEndpointIn,
    OperationalWebhookEndpointSecretIn,
    OperationalWebhookEndpointUpsertIn,
    RecoverIn,
    ReplayIn,
    Svix,
    SvixOptions,
)
from svix.models import BackgroundTaskType, MessageStatus  # noqa: E402

SERVER_URL = c.env("HERALD_SDK_SERVER_URL")
TOKEN = c.env("HERALD_SDK_TOKEN")
RECEIVER_URL = c.env("HERALD_SDK_RECEIVER_URL").rstrip("/")
RUN = c.run_id()

client = Svix(TOKEN, SvixOptions(server_url=SERVER_URL))
steps = c.Steps(NAME)
s = {}  # state shared between steps
out = {"sdk": "python-svix", "sdk_version": svix.__version__, "run": RUN}

TYPE_A = f"sdk.py2.{RUN}.user.created"
TYPE_B = f"sdk.py2.{RUN}.user.updated"
TYPE_C = f"sdk.py2.{RUN}.invoice.paid"
TYPE_DEL = f"sdk.py2.{RUN}.to.delete"
TYPE_GROUPED = f"sdk.py2.{RUN}.grouped"
TYPE_IMPORTED = f"sdk.py2.{RUN}.imported"
CHANNEL = "project-1"
out["event_types"] = {"a": TYPE_A, "b": TYPE_B, "c": TYPE_C}


def ids(items):
    return [item.id for item in items]


# ---------------------------------------------------------------- event types


def create_event_types():
    for name, description in [
        (TYPE_A, "A user was created"),
        (TYPE_B, "A user was updated"),
        (TYPE_C, "An invoice was paid"),
        (TYPE_DEL, "Created to be deleted"),
    ]:
        schema = {"1": {"type": "object", "properties": {"index": {"type": "integer"}}}}
        created = client.event_type.create(EventTypeIn(name=name, description=description, schemas=schema))
        check_eq(created.name, name, "EventTypeOut.name")
        check_eq(created.description, description, "EventTypeOut.description")
        check_eq(created.deprecated, False, "EventTypeOut.deprecated")
        check(not created.archived, f"new event type {name} is archived")


# ---------------------------------------------------------------- applications


def get_or_create_application():
    uid = f"sdk-py2-{RUN}"
    first = client.application.get_or_create(ApplicationIn(name=f"SDK py2 {RUN}", uid=uid, metadata={"suite": "sdk"}))
    second = client.application.get_or_create(ApplicationIn(name=f"SDK py2 {RUN}", uid=uid))
    check_eq(second.id, first.id, "get_or_create twice: application id")
    check_eq(first.uid, uid, "ApplicationOut.uid")
    check_eq(first.metadata, {"suite": "sdk"}, "ApplicationOut.metadata")
    check(first.id.startswith("app_"), f"application id {first.id!r} does not start with app_")
    s["app_id"], s["app_uid"] = first.id, uid
    out["app_id"], out["app_uid"] = first.id, uid


def get_application():
    by_id = client.application.get(s["app_id"])
    check_eq(by_id.id, s["app_id"], "application.get(id).id")
    by_uid = client.application.get(s["app_uid"])
    check_eq(by_uid.id, s["app_id"], "application.get(uid).id")


def missing_application_is_404():
    try:
        client.application.get(f"app_missing{RUN}")
    except Exception as error:  # noqa: BLE001
        check_eq(c.http_status(error), 404, f"status of GET unknown app ({c.describe_error(error)})")
        check(getattr(error, "code", ""), "404 error body has no `code`")
        return
    raise c.CheckFailed("application.get of an unknown id did not fail")


def list_applications_paged():
    created = [s["app_id"]]
    for i in range(2):
        app = client.application.create(ApplicationIn(name=f"SDK py2 {RUN} extra {i}", uid=f"sdk-py2-{RUN}-x{i}"))
        created.append(app.id)
    apps = c.page_all(
        lambda it: client.application.list(ApplicationListOptions(limit=1, iterator=it)), 1, "application.list"
    )
    c.exactly_once(ids(apps), created, "application.list(limit=1) paged")
    out["app_ids"] = created


# ---------------------------------------------------------------- endpoints


def create_endpoints():
    url_a = f"{RECEIVER_URL}/sdk-py2/{RUN}/a"
    endpoint = client.endpoint.create(
        s["app_id"],
        EndpointIn(
            url=url_a,
            description="endpoint A (filtered)",
            uid=f"ep-a-{RUN}",
            event_types=[TYPE_A, TYPE_B],
            channels=[CHANNEL],
            metadata={"team": "a"},
            throttle_rate=100,
        ),
    )
    check(endpoint.id.startswith("ep_"), f"endpoint id {endpoint.id!r} does not start with ep_")
    check_eq(endpoint.url, url_a, "EndpointOut.url")
    check_eq(sorted(endpoint.event_types or []), sorted([TYPE_A, TYPE_B]), "EndpointOut.eventTypes")
    check_eq(endpoint.channels, [CHANNEL], "EndpointOut.channels")
    check_eq(endpoint.metadata, {"team": "a"}, "EndpointOut.metadata")
    check_eq(endpoint.throttle_rate, 100, "EndpointOut.throttleRate")
    check_eq(endpoint.uid, f"ep-a-{RUN}", "EndpointOut.uid")
    check(not endpoint.disabled, "new endpoint is disabled")
    url_b = f"{RECEIVER_URL}/sdk-py2/{RUN}/b"
    other = client.endpoint.create(s["app_id"], EndpointIn(url=url_b, description="endpoint B (everything)"))
    check(other.event_types in (None, []), f"endpoint B has eventTypes {other.event_types!r}")
    s["ep_a"], s["ep_b"] = endpoint.id, other.id
    out.update(endpoint_id=endpoint.id, endpoint_url=url_a, other_endpoint_id=other.id, other_endpoint_url=url_b)


def get_endpoint():
    endpoint = client.endpoint.get(s["app_id"], s["ep_a"])
    check_eq(endpoint.id, s["ep_a"], "endpoint.get id")
    check_eq(sorted(endpoint.event_types or []), sorted([TYPE_A, TYPE_B]), "endpoint.get eventTypes")
    check_eq(endpoint.channels, [CHANNEL], "endpoint.get channels")
    check_eq(endpoint.throttle_rate, 100, "endpoint.get throttleRate")
    by_uid = client.endpoint.get(s["app_id"], f"ep-a-{RUN}")
    check_eq(by_uid.id, s["ep_a"], "endpoint.get(uid) id")


def upsert_endpoint():
    # 2.x has no `update`: PUT is `upsert(app, endpoint, EndpointUpsertIn)`.
    updated = client.endpoint.upsert(
        s["app_id"],
        s["ep_a"],
        EndpointUpsertIn(
            url=out["endpoint_url"],
            description="endpoint A (updated)",
            uid=f"ep-a-{RUN}",
            event_types=[TYPE_A, TYPE_B],
            channels=[CHANNEL],
            metadata={"team": "a", "stage": "put"},
            throttle_rate=50,
        ),
    )
    check_eq(updated.id, s["ep_a"], "upsert id")
    check_eq(updated.description, "endpoint A (updated)", "upsert description")
    check_eq(updated.metadata, {"team": "a", "stage": "put"}, "upsert metadata")
    check_eq(updated.throttle_rate, 50, "upsert throttleRate")


def patch_endpoint():
    patched = client.endpoint.patch(s["app_id"], s["ep_a"], EndpointPatch(metadata={"team": "a", "stage": "patch"}))
    check_eq(patched.metadata, {"team": "a", "stage": "patch"}, "patch metadata")
    check_eq(patched.description, "endpoint A (updated)", "patch left description alone")
    check_eq(sorted(patched.event_types or []), sorted([TYPE_A, TYPE_B]), "patch left eventTypes alone")
    check_eq(patched.channels, [CHANNEL], "patch left channels alone")
    check_eq(patched.throttle_rate, 50, "patch left throttleRate alone")


def list_endpoints_paged():
    endpoints = c.page_all(
        lambda it: client.endpoint.list(s["app_id"], EndpointListOptions(limit=1, iterator=it)), 1, "endpoint.list"
    )
    c.exactly_once(ids(endpoints), [s["ep_a"], s["ep_b"]], "endpoint.list(limit=1) paged")
    check_eq(len(endpoints), 2, "endpoint.list count")


def delete_endpoint():
    doomed = client.endpoint.create(s["app_id"], EndpointIn(url=f"{RECEIVER_URL}/sdk-py2/{RUN}/deleted", disabled=True))
    client.endpoint.delete(s["app_id"], doomed.id)
    try:
        client.endpoint.get(s["app_id"], doomed.id)
    except Exception as error:  # noqa: BLE001
        check_eq(c.http_status(error), 404, f"get of a deleted endpoint ({c.describe_error(error)})")
        return
    raise c.CheckFailed("endpoint.get of a deleted endpoint did not fail")


def endpoint_headers():
    client.endpoint.set_headers(s["app_id"], s["ep_a"], EndpointHeadersIn(headers={"X-Herald-Sdk": "py2"}))
    client.endpoint.patch_headers(s["app_id"], s["ep_a"], EndpointHeadersPatchIn(headers={"X-Herald-Run": RUN}))
    got = client.endpoint.get_headers(s["app_id"], s["ep_a"])
    lowered = {k.lower(): v for k, v in got.headers.items()}
    check_eq(lowered, {"x-herald-sdk": "py2", "x-herald-run": RUN}, "endpoint.get_headers after set+patch")
    check(isinstance(got.sensitive, list), "EndpointHeadersOut.sensitive is not a list")
    out["custom_headers"] = {"x-herald-sdk": "py2", "x-herald-run": RUN}


def get_secret():
    secret = client.endpoint.get_secret(s["app_id"], s["ep_a"]).key
    check(secret.startswith("whsec_"), f"secret {secret!r} does not start with whsec_")
    other = client.endpoint.get_secret(s["app_id"], s["ep_b"]).key
    check(other.startswith("whsec_") and other != secret, "endpoint B's secret")
    out["secret"], out["other_secret"] = secret, other


# ---------------------------------------------------------------- messages


def send_messages():
    msg_ids, event_ids, types = [], [], [TYPE_A, TYPE_B, TYPE_A, TYPE_B, TYPE_A]
    for i, event_type in enumerate(types):
        event_id = f"evt-py2-{RUN}-{i}" if i % 2 == 0 else None
        payload = {"type": event_type, "index": i, "run": RUN}
        # 2.x sends ?with_content=false unless told otherwise (the payload comes back as {}).
        with_content = i == 0
        # Message 1 carries an explicit idempotency key (the SDK makes up `auto_<uuid>` otherwise).
        options = MessageCreateOptions(with_content=with_content or None, idempotency_key=f"idem-py2-{RUN}" if i == 1 else None)
        message = client.message.create(
            s["app_id"],
            MessageIn(event_type=event_type, payload=payload, channels=[CHANNEL], event_id=event_id),
            options,
        )
        check(message.id.startswith("msg_"), f"message id {message.id!r} does not start with msg_")
        check_eq(message.event_type, event_type, "MessageOut.eventType")
        check_eq(message.event_id, event_id, "MessageOut.eventId")
        check_eq(message.channels, [CHANNEL], "MessageOut.channels")
        if with_content:
            check_eq(message.payload, payload, "MessageOut.payload (with_content=true)")
        else:
            check(message.payload in ({}, payload), f"MessageOut.payload (with_content=false): {message.payload!r}")
        msg_ids.append(message.id)
        if event_id:
            event_ids.append(event_id)
    s["msg_ids_a"] = list(msg_ids)
    # Not in endpoint A's eventTypes, and no channel: only endpoint B gets it.
    filtered = client.message.create(s["app_id"], MessageIn(event_type=TYPE_C, payload={"type": TYPE_C, "run": RUN}))
    msg_ids.append(filtered.id)
    s["msg_ids"], s["event_ids"], s["filtered"] = msg_ids, event_ids, filtered.id
    out.update(
        msg_ids=msg_ids,
        event_ids=event_ids,
        filtered_msg_id=filtered.id,
        msg_ids_for_endpoint={s["ep_a"]: s["msg_ids_a"], s["ep_b"]: msg_ids},
    )


def repeated_event_id_returns_original():
    first_id, event_id = s["msg_ids"][0], s["event_ids"][0]
    try:
        again = client.message.create(
            s["app_id"],
            MessageIn(event_type=TYPE_A, payload={"type": TYPE_A, "index": 0, "run": RUN}, channels=[CHANNEL], event_id=event_id),
        )
    except Exception as error:  # noqa: BLE001
        raise c.CheckFailed(f"repeated eventId must return the original message, got {c.describe_error(error)}")
    check_eq(again.id, first_id, f"message id for the repeated eventId {event_id}")


def repeated_idempotency_key_returns_original():
    payload = {"type": TYPE_B, "index": 1, "run": RUN}
    again = client.message.create(
        s["app_id"],
        MessageIn(event_type=TYPE_B, payload=payload, channels=[CHANNEL], event_id=None),
        MessageCreateOptions(idempotency_key=f"idem-py2-{RUN}"),
    )
    check_eq(again.id, s["msg_ids"][1], "message id for a repeated idempotency-key")


def list_messages_paged():
    messages = c.page_all(
        lambda it: client.message.list(s["app_id"], MessageListOptions(limit=2, iterator=it)), 2, "message.list"
    )
    c.exactly_once(ids(messages), s["msg_ids"], "message.list(limit=2) paged")
    check_eq(len(messages), len(s["msg_ids"]), "message.list count (a repeated eventId must not add a message)")


def list_messages_by_event_types():
    # The SDK joins lists with commas: ?event_types=a,c
    messages = c.page_all(
        lambda it: client.message.list(s["app_id"], MessageListOptions(limit=10, iterator=it, event_types=[TYPE_A, TYPE_C])),
        10,
        "message.list(event_types=[a, c])",
    )
    expected = [m for m, t in zip(s["msg_ids"], [TYPE_A, TYPE_B, TYPE_A, TYPE_B, TYPE_A, TYPE_C]) if t != TYPE_B]
    check_eq(sorted(ids(messages)), sorted(expected), "message.list(event_types=[a, c]) ids")
    by_channel = client.message.list(s["app_id"], MessageListOptions(channel=CHANNEL, limit=50))
    check_eq(sorted(ids(by_channel.data)), sorted(s["msg_ids_a"]), "message.list(channel) ids")


def get_message():
    message = client.message.get(s["app_id"], s["msg_ids"][0], MessageGetOptions(with_content=True))
    check_eq(message.id, s["msg_ids"][0], "message.get id")
    check_eq(message.event_id, s["event_ids"][0], "message.get eventId")
    check_eq(message.event_type, TYPE_A, "message.get eventType")
    check_eq(message.payload, {"type": TYPE_A, "index": 0, "run": RUN}, "message.get payload")
    check_eq(message.channels, [CHANNEL], "message.get channels")
    bare = client.message.get(s["app_id"], s["msg_ids"][1])
    check_eq(bare.id, s["msg_ids"][1], "message.get (with_content=false) id")
    check(bare.payload in ({}, {"type": TYPE_B, "index": 1, "run": RUN}), f"message.get (with_content=false) payload {bare.payload!r}")


# ---------------------------------------------------------------- attempts


def successful(attempts, endpoint_id):
    return [a for a in attempts if a.endpoint_id == endpoint_id and int(a.status) == 0]


def attempts_by_message():
    def delivered():
        for msg_id in s["msg_ids"]:
            attempts = client.message_attempt.list_by_msg(s["app_id"], msg_id).data
            if not successful(attempts, s["ep_b"]):
                return None
            if msg_id in s["msg_ids_a"] and not successful(attempts, s["ep_a"]):
                return None
        return True

    c.poll("a successful attempt (status 0) for every message at every matching endpoint", delivered)
    attempt = client.message_attempt.list_by_msg(
        s["app_id"], s["msg_ids"][0], MessageAttemptListByMsgOptions(endpoint_id=s["ep_a"])
    ).data
    check(attempt, "list_by_msg(endpoint_id=A) is empty")
    first = attempt[0]
    check_eq(first.msg_id, s["msg_ids"][0], "MessageAttemptOut.msgId")
    check_eq(first.endpoint_id, s["ep_a"], "MessageAttemptOut.endpointId")
    check_eq(first.url, out["endpoint_url"], "MessageAttemptOut.url")
    check_eq(first.response_status_code, 200, "MessageAttemptOut.responseStatusCode")
    check_eq(str(first.status_text), "success", "MessageAttemptOut.statusText")
    check_eq(int(first.trigger_type), 0, "MessageAttemptOut.triggerType (scheduled)")
    check(first.id.startswith("atmpt_"), f"attempt id {first.id!r} does not start with atmpt_")
    # The filtered message must never reach endpoint A.
    filtered = client.message_attempt.list_by_msg(s["app_id"], s["filtered"]).data
    check_eq([a.endpoint_id for a in filtered], [s["ep_b"]], "endpoints that got the filtered message")


def attempts_by_endpoint():
    attempts = c.page_all(
        lambda it: client.message_attempt.list_by_endpoint(
            s["app_id"], s["ep_a"], MessageAttemptListByEndpointOptions(limit=2, iterator=it, status=MessageStatus.SUCCESS)
        ),
        2,
        "message_attempt.list_by_endpoint(status=0)",
    )
    check(all(int(a.status) == 0 for a in attempts), "list_by_endpoint(status=0) returned a non-success attempt")
    check_eq(sorted({a.msg_id for a in attempts}), sorted(s["msg_ids_a"]), "messages attempted at endpoint A")
    check(s["filtered"] not in {a.msg_id for a in attempts}, "the filtered message was attempted at endpoint A")


def attempted_destinations():
    destinations = client.message_attempt.list_attempted_destinations(
        s["app_id"], s["msg_ids"][0], MessageAttemptListAttemptedDestinationsOptions(limit=10)
    ).data
    check_eq(sorted(ids(destinations)), sorted([s["ep_a"], s["ep_b"]]), "list_attempted_destinations(msg 0)")
    check(all(int(d.status) == 0 for d in destinations), "list_attempted_destinations status is not 0")
    check_eq({d.id: d.url for d in destinations}[s["ep_a"]], out["endpoint_url"], "MessageEndpointOut.url")
    only_b = client.message_attempt.list_attempted_destinations(s["app_id"], s["filtered"]).data
    check_eq(ids(only_b), [s["ep_b"]], "list_attempted_destinations(filtered message)")


def attempted_messages():
    messages = c.page_all(
        lambda it: client.message_attempt.list_attempted_messages(
            s["app_id"], s["ep_a"], MessageAttemptListAttemptedMessagesOptions(limit=2, iterator=it)
        ),
        2,
        "list_attempted_messages(endpoint A)",
    )
    c.exactly_once(ids(messages), s["msg_ids_a"], "list_attempted_messages(endpoint A)")
    check_eq(len(messages), len(s["msg_ids_a"]), "list_attempted_messages(endpoint A) count")
    check(all(int(m.status) == 0 for m in messages), "EndpointMessageOut.status is not 0")
    first = {m.id: m for m in messages}[s["msg_ids"][0]]
    check_eq(first.event_type, TYPE_A, "EndpointMessageOut.eventType")


# ---------------------------------------------------------------- secret, resend, recover, stats


def rotate_secret():
    # 2.x parses the answer as EndpointSecretOut {"key": ...}: a 204 breaks this SDK.
    rotated = client.endpoint.rotate_secret(s["app_id"], s["ep_a"], EndpointSecretRotateIn())
    check(rotated.key.startswith("whsec_"), f"rotated key {rotated.key!r} does not start with whsec_")
    check(rotated.key != out["secret"], "rotate_secret returned the old secret")
    current = client.endpoint.get_secret(s["app_id"], s["ep_a"]).key
    check_eq(current, rotated.key, "get_secret after rotate_secret")
    out["rotated_secret"] = rotated.key


def resend():
    msg_id = s["msg_ids"][0]
    client.message_attempt.resend(s["app_id"], msg_id, s["ep_a"])

    def two_successes():
        attempts = client.message_attempt.list_by_msg(
            s["app_id"], msg_id, MessageAttemptListByMsgOptions(endpoint_id=s["ep_a"])
        ).data
        return len(successful(attempts, s["ep_a"])) >= 2 and attempts

    attempts = c.poll("a second successful attempt after resend", two_successes)
    check(any(int(a.trigger_type) == 1 for a in attempts), "no attempt with triggerType 1 (manual) after resend")
    out["resent_msg_id"] = msg_id


def recover():
    since = datetime.now(timezone.utc) - timedelta(hours=1)
    task = client.endpoint.recover(s["app_id"], s["ep_a"], RecoverIn(since=since))
    check(task.id, "RecoverOut.id is empty")
    check_eq(str(task.task), "endpoint.recover", "RecoverOut.task")
    check(str(task.status) in ("running", "finished"), f"RecoverOut.status {task.status!r}")
    # The task reads back through the background-task routes.
    read = client.background_task.get(task.id)
    check_eq(read.id, task.id, "BackgroundTaskOut.id")
    check_eq(str(read.task), "endpoint.recover", "BackgroundTaskOut.task")
    check(str(read.status) in ("running", "finished"), f"BackgroundTaskOut.status {read.status!r}")
    listed = client.background_task.list(BackgroundTaskListOptions(task=BackgroundTaskType.ENDPOINT_RECOVER, limit=50))
    check(any(t.id == task.id for t in listed.data), "the recover task is not in background_task.list")


def replays():
    # Nothing failed and nothing was missed on ep_a: both tasks select nothing and
    # finish at once, so later steps see no extra deliveries.
    since = datetime.now(timezone.utc) - timedelta(hours=1)
    missing = client.endpoint.replay_missing(s["app_id"], s["ep_a"], ReplayIn(since=since))
    check_eq(str(missing.task), "endpoint.replay", "ReplayOut.task (replay_missing)")
    check_eq(str(missing.status), "finished", "ReplayOut.status (replay_missing)")
    bulk_in = BulkReplayIn(since=since, status=MessageStatus.FAIL, event_types=[TYPE_A])
    bulk = client.endpoint.bulk_replay(s["app_id"], s["ep_a"], bulk_in)
    check_eq(str(bulk.task), "endpoint.bulk-replay", "ReplayOut.task (bulk_replay)")
    read = client.background_task.get(bulk.id)
    check_eq((read.id, str(read.status)), (bulk.id, "finished"), "background_task.get of the bulk replay")
    listed = client.background_task.list(BackgroundTaskListOptions(task=BackgroundTaskType.ENDPOINT_REPLAY, limit=50))
    check(any(t.id == missing.id for t in listed.data), "the replay-missing task is not in background_task.list")


def scheduled_message():
    # An hour ahead: nothing of it reaches a receiver while the flow runs.
    deliver_at = (datetime.now(timezone.utc) + timedelta(hours=1)).replace(microsecond=0)
    message = client.message.create(
        s["app_id"], MessageIn(event_type=TYPE_B, payload={"scheduled": True}, deliver_at=deliver_at)
    )
    check_eq(message.deliver_at, deliver_at, "MessageOut.deliverAt (create)")
    read = client.message.get(s["app_id"], message.id)
    check_eq(read.deliver_at, deliver_at, "MessageOut.deliverAt (get)")
    s["scheduled_msg_id"] = message.id


def housekeeping():
    active = client.message.precheck(s["app_id"], MessagePrecheckIn(event_type=TYPE_B))
    check(active.active, "message.precheck: an endpoint takes TYPE_B")
    ids = [s["scheduled_msg_id"], "msg_0000000000000000000000"]
    out = client.message.bulk_expunge_content(s["app_id"], BulkExpungeContentsIn(ids=ids))
    check_eq({k: str(v) for k, v in out.results.items()}, {ids[0]: "expunged", ids[1]: "not-found"}, "bulk expunge")
    # No portal token of this application is live: the call itself must answer 204.
    client.authentication.expire_all(s["app_id"], ApplicationTokenExpireIn(expiry=60))


def import_openapi():
    spec = {
        "openapi": "3.1.0",
        "info": {"title": "SDK", "version": "1"},
        "webhooks": {
            TYPE_IMPORTED: {
                "post": {
                    "description": "Imported from OpenAPI",
                    "x-svix-group-name": "imported",
                    "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
                }
            }
        },
    }
    dry = client.event_type.import_openapi(EventTypeImportOpenApiIn(spec=spec, dry_run=True))
    check_eq(dry.data.modified, [], "import_openapi dry run modified")
    check_eq([t.name for t in dry.data.to_modify], [TYPE_IMPORTED], "import_openapi dry run to_modify")
    done = client.event_type.import_openapi(EventTypeImportOpenApiIn(spec=spec))
    check_eq(done.data.modified, [TYPE_IMPORTED], "import_openapi modified")
    read = client.event_type.get(TYPE_IMPORTED)
    check_eq((read.description, read.group_name), ("Imported from OpenAPI", "imported"), "imported event type")
    check_eq(read.schemas, {"1": {"type": "object"}}, "imported event type schemas")


def operational_endpoints():
    ops = client.operational_webhook.endpoint
    uid = f"ops-{RUN}"
    created = ops.create(
        OperationalWebhookEndpointIn(url="https://example.com/ops", uid=uid, event_types=["endpoint.disabled"])
    )
    check_eq((created.uid, created.event_types), (uid, ["endpoint.disabled"]), "operational_webhook.endpoint.create")
    check(any(e.id == created.id for e in ops.list().data), "operational_webhook.endpoint.list")
    check_eq(ops.get(uid).id, created.id, "operational_webhook.endpoint.get")
    updated = ops.upsert(uid, OperationalWebhookEndpointUpsertIn(url="https://example.com/ops2", description="pager"))
    check_eq((updated.id, updated.url, updated.description), (created.id, "https://example.com/ops2", "pager"), "upsert")
    ops.set_headers(uid, OperationalWebhookEndpointHeadersIn(headers={"x-team": "sre"}))
    check_eq(ops.get_headers(uid).headers, {"x-team": "sre"}, "operational_webhook.endpoint.get_headers")
    before = ops.get_secret(uid).key
    ops.rotate_secret(uid, OperationalWebhookEndpointSecretIn())
    check(ops.get_secret(uid).key != before, "operational_webhook.endpoint.rotate_secret")
    ops.delete(uid)
    check(all(e.id != created.id for e in ops.list().data), "operational_webhook.endpoint.delete")


def expunge_all():
    # Last: every payload of the application goes.
    task = client.message.expunge_all_contents(s["app_id"])
    check_eq(str(task.task), "application.purge_content", "expunge_all_contents task type")
    for _ in range(100):
        read = client.background_task.get(task.id)
        if str(read.status) != "running":
            break
        time.sleep(0.2)
    check_eq(str(read.status), "finished", "expunge_all_contents task status")
    check(read.data.get("messagesPurged", 0) >= len(s["msg_ids_a"]), f"messagesPurged {read.data}")
    message = client.message.get(s["app_id"], s["msg_ids_a"][0])
    check_eq(message.payload, {}, "message.get after expunge_all_contents")


def stats():
    got = client.endpoint.get_stats(s["app_id"], s["ep_a"])
    check(got.success >= len(s["msg_ids_a"]), f"stats.success {got.success} < {len(s['msg_ids_a'])}")
    check_eq(got.fail, 0, "stats.fail")
    since = datetime.now(timezone.utc) - timedelta(hours=1)
    windowed = client.endpoint.get_stats(s["app_id"], s["ep_a"], EndpointGetStatsOptions(since=since))
    check(windowed.success >= len(s["msg_ids_a"]), f"stats(since=1h ago).success {windowed.success}")


# ---------------------------------------------------------------- event types, continued


def event_types_list_get_update_delete():
    mine = {TYPE_A, TYPE_B, TYPE_C, TYPE_DEL}
    listed = c.page_all(
        lambda it: client.event_type.list(EventTypeListOptions(limit=2, iterator=it)), 2, "event_type.list"
    )
    names = [e.name for e in listed]
    c.exactly_once(names, mine, "event_type.list(limit=2) paged")

    got = client.event_type.get(TYPE_A)
    check_eq(got.description, "A user was created", "event_type.get description")
    check(got.schemas and "1" in got.schemas, f"event_type.get schemas {got.schemas!r}")

    # 2.x: PUT is `upsert`, PATCH is `patch`.
    updated = client.event_type.upsert(TYPE_A, EventTypeUpsertIn(description="A user was created (v2)"))
    check_eq(updated.description, "A user was created (v2)", "event_type.upsert description")
    patched = client.event_type.patch(TYPE_B, EventTypePatch(description="A user was updated (patched)"))
    check_eq(patched.description, "A user was updated (patched)", "event_type.patch description")
    check_eq(client.event_type.get(TYPE_A).description, "A user was created (v2)", "event_type.get after upsert")

    # featureFlags and groupName: set on create, read back, changed by patch, cleared by null.
    grouped = client.event_type.create(
        EventTypeIn(
            name=TYPE_GROUPED,
            description="Grouped and flagged",
            group_name="billing",
            feature_flags=["beta", "eu-only"],
        )
    )
    check_eq((grouped.group_name, grouped.feature_flags), ("billing", ["beta", "eu-only"]), "event_type.create group")
    repatched = client.event_type.patch(TYPE_GROUPED, EventTypePatch(group_name="payments", feature_flags=["beta"]))
    check_eq((repatched.group_name, repatched.feature_flags), ("payments", ["beta"]), "event_type.patch group")
    read = client.event_type.get(TYPE_GROUPED)
    check_eq((read.group_name, read.feature_flags), ("payments", ["beta"]), "event_type.get group")
    client.event_type.delete(TYPE_GROUPED)

    client.event_type.delete(TYPE_DEL)
    # Svix archives on delete (expunge=true removes it): either it is gone or archived.
    try:
        after = client.event_type.get(TYPE_DEL)
        check(after.archived, "a deleted event type is neither gone nor archived")
    except c.CheckFailed:
        raise
    except Exception as error:  # noqa: BLE001
        check_eq(c.http_status(error), 404, f"event_type.get after delete ({c.describe_error(error)})")
    remaining = [e.name for e in client.event_type.list(EventTypeListOptions(limit=250)).data]
    check(TYPE_DEL not in remaining, "a deleted event type is still listed without include_archived")


steps.run("event_type.create x4", create_event_types)
steps.run("application.get_or_create twice -> same id", get_or_create_application)
steps.run("application.get by id and by uid", get_application)
steps.run("application.get unknown -> 404 HttpError", missing_application_is_404)
steps.run("application.list paged (limit=1)", list_applications_paged)
steps.run("endpoint.create (eventTypes, channels, metadata, throttleRate)", create_endpoints)
steps.run("endpoint.get by id and by uid", get_endpoint)
steps.run("endpoint.upsert (PUT)", upsert_endpoint)
steps.run("endpoint.patch", patch_endpoint)
steps.run("endpoint.list paged (limit=1)", list_endpoints_paged)
steps.run("endpoint.delete then get -> 404", delete_endpoint)
steps.run("endpoint.set_headers / patch_headers / get_headers", endpoint_headers)
steps.run("endpoint.get_secret", get_secret)
steps.run("message.create x6 (some with eventId)", send_messages)
steps.run("message.create repeated eventId -> original message", repeated_event_id_returns_original)
steps.run("message.create repeated idempotency-key -> original message", repeated_idempotency_key_returns_original)
steps.run("message.list paged (limit=2)", list_messages_paged)
steps.run("message.list event_types / channel filters", list_messages_by_event_types)
steps.run("message.get", get_message)
steps.run("message_attempt.list_by_msg (poll until status 0)", attempts_by_message)
steps.run("message_attempt.list_by_endpoint paged (status=0)", attempts_by_endpoint)
steps.run("message_attempt.list_attempted_destinations", attempted_destinations)
steps.run("message_attempt.list_attempted_messages paged", attempted_messages)
steps.run("endpoint.rotate_secret -> {key}", rotate_secret)
steps.run("message_attempt.resend", resend)
steps.run("endpoint.recover", recover)
steps.run("endpoint.replay_missing / bulk_replay", replays)
steps.run("endpoint.get_stats", stats)
steps.run("event_type.list / get / upsert / patch (featureFlags, groupName) / delete", event_types_list_get_update_delete)
steps.run("event_type.import_openapi (dry run, then for real)", import_openapi)
steps.run("operational_webhook.endpoint create / list / get / upsert / headers / secret / delete", operational_endpoints)
steps.run("message.create with deliver_at -> shown by message.get", scheduled_message)
steps.run("message.precheck / bulk_expunge_content, authentication.expire_all", housekeeping)
steps.run("message.expunge_all_contents -> background_task finished", expunge_all)
steps.finish(out)
