"""Drives Herald's /api/v1 with the official Python SDK of the previous generation, PyPI
`svix` 1.x, through the SDK only. Same flow as sdk_v2.py, plus what only 1.x does:

- endpoints are created with `filterTypes` (EndpointIn.filter_types) and `rateLimit`
  (EndpointIn.rate_limit), and read back through those names;
- 1.x *requires* `version` (int) in EndpointOut and MessageEndpointOut;
- PUT is `update` (EndpointUpdate, EventTypeUpdate), headers PUT is `update_headers`;
- `rotate_secret` returns None (the body is not read), so the new key comes from get_secret;
- message.create always sends ?with_content=false (1.99.1 ignores the option).

    python sdk_v1.py          run the whole flow; prints one JSON line (same keys as sdk_v2.py)
    python sdk_v1.py verify   stdin [{"secret","body","headers"}] -> svix.webhooks.Webhook(secret).verify
"""

import sys
from datetime import datetime, timedelta, timezone

import sdk_common as c
from sdk_common import check, check_eq

NAME = "python-svix-1"

if len(sys.argv) > 1 and sys.argv[1] == "verify":
    c.verify_main(NAME)
    sys.exit(0)

import svix  # noqa: E402
from svix.api import (  # noqa: E402
    ApplicationIn,
    ApplicationListOptions,
    EndpointGetStatsOptions,
    EndpointHeadersIn,
    EndpointHeadersPatchIn,
    EndpointIn,
    EndpointListOptions,
    EndpointPatch,
    EndpointSecretRotateIn,
    EndpointUpdate,
    EventTypeIn,
    EventTypeListOptions,
    EventTypeUpdate,
    MessageAttemptListAttemptedDestinationsOptions,
    MessageAttemptListAttemptedMessagesOptions,
    MessageAttemptListByEndpointOptions,
    MessageAttemptListByMsgOptions,
    MessageGetOptions,
    MessageIn,
    MessageListOptions,
    RecoverIn,
    Svix,
    SvixOptions,
)

SERVER_URL = c.env("HERALD_SDK_SERVER_URL")
TOKEN = c.env("HERALD_SDK_TOKEN")
RECEIVER_URL = c.env("HERALD_SDK_RECEIVER_URL").rstrip("/")
RUN = c.run_id()

client = Svix(TOKEN, SvixOptions(server_url=SERVER_URL))
steps = c.Steps(NAME)
s = {}
out = {"sdk": "python-svix", "sdk_version": svix.__version__, "run": RUN}

TYPE_A = f"sdk.py1.{RUN}.user.created"
TYPE_B = f"sdk.py1.{RUN}.user.updated"
TYPE_C = f"sdk.py1.{RUN}.invoice.paid"
TYPE_DEL = f"sdk.py1.{RUN}.to.delete"
CHANNEL = "project-1"
out["event_types"] = {"a": TYPE_A, "b": TYPE_B, "c": TYPE_C}


def ids(items):
    return [item.id for item in items]


def create_event_types():
    for name, description in [
        (TYPE_A, "A user was created"),
        (TYPE_B, "A user was updated"),
        (TYPE_C, "An invoice was paid"),
        (TYPE_DEL, "Created to be deleted"),
    ]:
        created = client.event_type.create(EventTypeIn(name=name, description=description))
        check_eq(created.name, name, "EventTypeOut.name")
        check_eq(created.deprecated, False, "EventTypeOut.deprecated")


def get_or_create_application():
    uid = f"sdk-py1-{RUN}"
    first = client.application.get_or_create(ApplicationIn(name=f"SDK py1 {RUN}", uid=uid))
    second = client.application.get_or_create(ApplicationIn(name=f"SDK py1 {RUN}", uid=uid))
    check_eq(second.id, first.id, "get_or_create twice: application id")
    check_eq(first.uid, uid, "ApplicationOut.uid")
    s["app_id"], s["app_uid"] = first.id, uid
    out["app_id"], out["app_uid"] = first.id, uid


def get_application():
    check_eq(client.application.get(s["app_id"]).id, s["app_id"], "application.get(id).id")
    check_eq(client.application.get(s["app_uid"]).id, s["app_id"], "application.get(uid).id")


def list_applications_paged():
    created = [s["app_id"]]
    for i in range(2):
        created.append(client.application.create(ApplicationIn(name=f"SDK py1 {RUN} extra {i}")).id)
    apps = c.page_all(
        lambda it: client.application.list(ApplicationListOptions(limit=1, iterator=it)), 1, "application.list"
    )
    c.exactly_once(ids(apps), created, "application.list(limit=1) paged")
    out["app_ids"] = created


def create_endpoints():
    url_a = f"{RECEIVER_URL}/sdk-py1/{RUN}/a"
    # The 1.x names: filterTypes and rateLimit (and version).
    endpoint = client.endpoint.create(
        s["app_id"],
        EndpointIn(
            url=url_a,
            version=1,
            description="endpoint A (filtered)",
            uid=f"ep-a-{RUN}",
            filter_types=[TYPE_A, TYPE_B],
            channels=[CHANNEL],
            metadata={"team": "a"},
            rate_limit=100,
        ),
    )
    check_eq(endpoint.version, 1, "EndpointOut.version")
    check_eq(endpoint.url, url_a, "EndpointOut.url")
    check_eq(sorted(endpoint.filter_types or []), sorted([TYPE_A, TYPE_B]), "EndpointOut.filterTypes")
    check_eq(endpoint.rate_limit, 100, "EndpointOut.rateLimit")
    check_eq(endpoint.throttle_rate, 100, "EndpointOut.throttleRate (same value as rateLimit)")
    check_eq(endpoint.channels, [CHANNEL], "EndpointOut.channels")
    check_eq(endpoint.metadata, {"team": "a"}, "EndpointOut.metadata")
    url_b = f"{RECEIVER_URL}/sdk-py1/{RUN}/b"
    # No version given: the server must still answer with one.
    other = client.endpoint.create(s["app_id"], EndpointIn(url=url_b, description="endpoint B (everything)"))
    check(isinstance(other.version, int), "EndpointOut.version missing when not sent")
    s["ep_a"], s["ep_b"] = endpoint.id, other.id
    out.update(endpoint_id=endpoint.id, endpoint_url=url_a, other_endpoint_id=other.id, other_endpoint_url=url_b)


def get_update_patch_list_endpoint():
    got = client.endpoint.get(s["app_id"], s["ep_a"])
    check_eq(sorted(got.filter_types or []), sorted([TYPE_A, TYPE_B]), "endpoint.get filterTypes")
    check_eq(got.rate_limit, 100, "endpoint.get rateLimit")
    check_eq(got.version, 1, "endpoint.get version")
    updated = client.endpoint.update(
        s["app_id"],
        s["ep_a"],
        EndpointUpdate(
            url=out["endpoint_url"],
            version=1,
            description="endpoint A (updated)",
            uid=f"ep-a-{RUN}",
            filter_types=[TYPE_A, TYPE_B],
            channels=[CHANNEL],
            metadata={"team": "a", "stage": "put"},
            rate_limit=50,
        ),
    )
    check_eq(updated.description, "endpoint A (updated)", "endpoint.update description")
    check_eq(updated.rate_limit, 50, "endpoint.update rateLimit")
    patched = client.endpoint.patch(s["app_id"], s["ep_a"], EndpointPatch(metadata={"team": "a", "stage": "patch"}))
    check_eq(patched.metadata, {"team": "a", "stage": "patch"}, "endpoint.patch metadata")
    check_eq(sorted(patched.filter_types or []), sorted([TYPE_A, TYPE_B]), "endpoint.patch left filterTypes alone")
    check_eq(patched.rate_limit, 50, "endpoint.patch left rateLimit alone")
    endpoints = c.page_all(
        lambda it: client.endpoint.list(s["app_id"], EndpointListOptions(limit=1, iterator=it)), 1, "endpoint.list"
    )
    c.exactly_once(ids(endpoints), [s["ep_a"], s["ep_b"]], "endpoint.list(limit=1) paged")
    check(all(isinstance(e.version, int) for e in endpoints), "endpoint.list item without version")


def endpoint_headers():
    client.endpoint.update_headers(s["app_id"], s["ep_a"], EndpointHeadersIn(headers={"X-Herald-Sdk": "py1"}))
    client.endpoint.patch_headers(s["app_id"], s["ep_a"], EndpointHeadersPatchIn(headers={"X-Herald-Run": RUN}))
    got = client.endpoint.get_headers(s["app_id"], s["ep_a"])
    lowered = {k.lower(): v for k, v in got.headers.items()}
    check_eq(lowered, {"x-herald-sdk": "py1", "x-herald-run": RUN}, "endpoint.get_headers after update+patch")
    out["custom_headers"] = {"x-herald-sdk": "py1", "x-herald-run": RUN}


def get_secret():
    secret = client.endpoint.get_secret(s["app_id"], s["ep_a"]).key
    check(secret.startswith("whsec_"), f"secret {secret!r} does not start with whsec_")
    out["secret"] = secret
    out["other_secret"] = client.endpoint.get_secret(s["app_id"], s["ep_b"]).key


def send_messages():
    msg_ids, event_ids = [], []
    for i, event_type in enumerate([TYPE_A, TYPE_B, TYPE_A, TYPE_B, TYPE_A]):
        event_id = f"evt-py1-{RUN}-{i}" if i % 2 == 0 else None
        kwargs = {"event_id": event_id} if event_id else {}
        message = client.message.create(
            s["app_id"],
            MessageIn(event_type=event_type, payload={"type": event_type, "index": i, "run": RUN}, channels=[CHANNEL], **kwargs),
        )
        check_eq(message.event_type, event_type, "MessageOut.eventType")
        check_eq(message.event_id, event_id, "MessageOut.eventId")
        msg_ids.append(message.id)
        if event_id:
            event_ids.append(event_id)
    s["msg_ids_a"] = list(msg_ids)
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
    try:
        again = client.message.create(
            s["app_id"],
            MessageIn(event_type=TYPE_A, payload={"again": True}, channels=[CHANNEL], event_id=s["event_ids"][0]),
        )
    except Exception as error:  # noqa: BLE001
        raise c.CheckFailed(f"repeated eventId must return the original message, got {c.describe_error(error)}")
    check_eq(again.id, s["msg_ids"][0], "message id for a repeated eventId")


def list_and_get_messages():
    messages = c.page_all(
        lambda it: client.message.list(s["app_id"], MessageListOptions(limit=2, iterator=it)), 2, "message.list"
    )
    c.exactly_once(ids(messages), s["msg_ids"], "message.list(limit=2) paged")
    check_eq(len(messages), len(s["msg_ids"]), "message.list count")
    got = client.message.get(s["app_id"], s["msg_ids"][0], MessageGetOptions(with_content=True))
    check_eq(got.payload, {"type": TYPE_A, "index": 0, "run": RUN}, "message.get(with_content=true) payload")


def successful(attempts, endpoint_id):
    return [a for a in attempts if a.endpoint_id == endpoint_id and int(a.status) == 0]


def attempts():
    def delivered():
        for msg_id in s["msg_ids"]:
            found = client.message_attempt.list_by_msg(s["app_id"], msg_id).data
            if not successful(found, s["ep_b"]):
                return None
            if msg_id in s["msg_ids_a"] and not successful(found, s["ep_a"]):
                return None
        return True

    c.poll("a successful attempt (status 0) for every message at every matching endpoint", delivered)
    filtered = client.message_attempt.list_by_msg(s["app_id"], s["filtered"]).data
    check_eq([a.endpoint_id for a in filtered], [s["ep_b"]], "endpoints that got the filtered message")
    by_endpoint = c.page_all(
        lambda it: client.message_attempt.list_by_endpoint(
            s["app_id"], s["ep_a"], MessageAttemptListByEndpointOptions(limit=2, iterator=it)
        ),
        2,
        "list_by_endpoint",
    )
    check_eq(sorted({a.msg_id for a in by_endpoint}), sorted(s["msg_ids_a"]), "messages attempted at endpoint A")
    destinations = client.message_attempt.list_attempted_destinations(
        s["app_id"], s["msg_ids"][0], MessageAttemptListAttemptedDestinationsOptions(limit=10)
    ).data
    check_eq(sorted(ids(destinations)), sorted([s["ep_a"], s["ep_b"]]), "list_attempted_destinations")
    check(all(isinstance(d.version, int) for d in destinations), "MessageEndpointOut without version")
    attempted = c.page_all(
        lambda it: client.message_attempt.list_attempted_messages(
            s["app_id"], s["ep_a"], MessageAttemptListAttemptedMessagesOptions(limit=2, iterator=it)
        ),
        2,
        "list_attempted_messages",
    )
    c.exactly_once(ids(attempted), s["msg_ids_a"], "list_attempted_messages(endpoint A)")


def rotate_secret_resend_recover_stats():
    # 1.x does not read the rotate answer; the new key comes from get_secret.
    result = client.endpoint.rotate_secret(s["app_id"], s["ep_a"], EndpointSecretRotateIn())
    check(result is None, "1.x rotate_secret returned something")
    rotated = client.endpoint.get_secret(s["app_id"], s["ep_a"]).key
    check(rotated.startswith("whsec_") and rotated != out["secret"], "get_secret after rotate_secret")
    out["rotated_secret"] = rotated

    msg_id = s["msg_ids"][0]
    client.message_attempt.resend(s["app_id"], msg_id, s["ep_a"])
    c.poll(
        "a second successful attempt after resend",
        lambda: len(
            successful(
                client.message_attempt.list_by_msg(
                    s["app_id"], msg_id, MessageAttemptListByMsgOptions(endpoint_id=s["ep_a"])
                ).data,
                s["ep_a"],
            )
        )
        >= 2,
    )
    out["resent_msg_id"] = msg_id

    task = client.endpoint.recover(s["app_id"], s["ep_a"], RecoverIn(since=datetime.now(timezone.utc) - timedelta(hours=1)))
    check_eq(str(task.task), "endpoint.recover", "RecoverOut.task")

    stats = client.endpoint.get_stats(
        s["app_id"], s["ep_a"], EndpointGetStatsOptions(since=datetime.now(timezone.utc) - timedelta(hours=1))
    )
    check(stats.success >= len(s["msg_ids_a"]), f"stats.success {stats.success}")
    check_eq(stats.fail, 0, "stats.fail")


def event_types_list_get_update_delete():
    listed = c.page_all(
        lambda it: client.event_type.list(EventTypeListOptions(limit=2, iterator=it)), 2, "event_type.list"
    )
    c.exactly_once([e.name for e in listed], {TYPE_A, TYPE_B, TYPE_C, TYPE_DEL}, "event_type.list(limit=2) paged")
    check_eq(client.event_type.get(TYPE_A).description, "A user was created", "event_type.get description")
    updated = client.event_type.update(TYPE_A, EventTypeUpdate(description="A user was created (v1)"))
    check_eq(updated.description, "A user was created (v1)", "event_type.update description")
    client.event_type.delete(TYPE_DEL)
    remaining = [e.name for e in client.event_type.list(EventTypeListOptions(limit=250)).data]
    check(TYPE_DEL not in remaining, "a deleted event type is still listed without include_archived")


steps.run("event_type.create x4", create_event_types)
steps.run("application.get_or_create twice -> same id", get_or_create_application)
steps.run("application.get by id and by uid", get_application)
steps.run("application.list paged (limit=1)", list_applications_paged)
steps.run("endpoint.create with filterTypes + rateLimit; EndpointOut.version", create_endpoints)
steps.run("endpoint.get / update (PUT) / patch / list paged", get_update_patch_list_endpoint)
steps.run("endpoint.update_headers / patch_headers / get_headers", endpoint_headers)
steps.run("endpoint.get_secret", get_secret)
steps.run("message.create x6 (some with eventId)", send_messages)
steps.run("message.create repeated eventId -> original message", repeated_event_id_returns_original)
steps.run("message.list paged (limit=2) / message.get", list_and_get_messages)
steps.run("message_attempt list_by_msg / list_by_endpoint / destinations / attempted messages", attempts)
steps.run("endpoint.rotate_secret / resend / recover / get_stats", rotate_secret_resend_recover_stats)
steps.run("event_type.list / get / update (PUT) / delete", event_types_list_get_update_delete)
steps.finish(out)
