#!/usr/bin/env python3
"""A Herald webhook consumer that loses nothing: Python 3.9+, standard library only.

    consumer.py serve      --port 8000       receive webhooks: verify, dedupe, process, acknowledge
    consumer.py reconcile  --since-hours 24  process what the endpoint's feed lists and we lack,
                                             and acknowledge what Herald has no receipt for
    consumer.py pull       [--follow]        read the application's messages through a polling
                                             endpoint, from where this consumer left off

Configuration (environment):
    HERALD_URL            Herald's base URL, e.g. http://127.0.0.1:8080
    HERALD_TOKEN          a credential that may read the application: the tenant's API key, a
                          portal token, or (for `pull` only) a poller key `sk_poll_…`
    HERALD_ENDPOINT_KEY   the endpoint's own key `sk_ep_…` (POST …/endpoint/{id}/key): reads the
                          endpoint's feed and sends receipts (serve, reconcile); without it
                          HERALD_TOKEN is used, and `serve` sends no receipts
    HERALD_APP            the application's id or uid
    HERALD_ENDPOINT       the webhook endpoint's id or uid (serve, reconcile)
    HERALD_SECRET         the endpoint's signing secret, `whsec_…` (serve)
    HERALD_POLLER         the polling endpoint's id or uid (pull)
    CONSUMER_DB           where processed message ids are kept (default consumer.db)
    CONSUMER_OUT          where processed messages are appended as JSON lines (default processed.jsonl)

Every path ends in `process()`, which records the message id (the `webhook-id`, stable
across retries, replays and both paths) in SQLite before doing the work, so a message that
arrives twice, by push and by pull, or by a retry after a lost answer, is processed once.
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import http.server
import json
import os
import sqlite3
import sys
import threading
import time
import urllib.parse
import urllib.request

TOLERANCE_SECONDS = 5 * 60


# ---------------------------------------------------------------- processing, once


class Processed:
    """The ids of messages already processed, in SQLite."""

    def __init__(self, path):
        # One connection shared by the server's threads, one claim at a time.
        self.db = sqlite3.connect(path, check_same_thread=False)
        self.lock = threading.Lock()
        self.db.execute("CREATE TABLE IF NOT EXISTS processed (msg_id TEXT PRIMARY KEY, at TEXT NOT NULL)")

    def claim(self, msg_id):
        """True the first time an id is seen; False for a duplicate."""
        try:
            with self.lock, self.db:
                self.db.execute("INSERT INTO processed VALUES (?, ?)", (msg_id, now_iso()))
            return True
        except sqlite3.IntegrityError:
            return False


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def process(processed, msg_id, event_type, payload, via):
    """Your business logic goes here. This one appends the message to CONSUMER_OUT."""
    if not processed.claim(msg_id):
        return False
    with processed.lock, open(os.environ.get("CONSUMER_OUT", "processed.jsonl"), "a") as out:
        out.write(json.dumps({"id": msg_id, "eventType": event_type, "payload": payload, "via": via}) + "\n")
    return True


# ---------------------------------------------------------------- signatures


def verify(secret, headers, body):
    """Standard Webhooks: HMAC-SHA256 of `id.timestamp.body` with the secret's bytes;
    the timestamp within five minutes of now. Returns the webhook-id or raises ValueError."""
    msg_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature", "")
    if not msg_id or not timestamp:
        raise ValueError("missing webhook-id or webhook-timestamp")
    if abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
        raise ValueError("timestamp outside the tolerance")
    key = base64.b64decode(secret.split("_", 1)[1] if secret.startswith("whsec_") else secret)
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for entry in signatures.split(" "):
        version, _, signature = entry.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            return msg_id
    raise ValueError("no valid v1 signature")


# ---------------------------------------------------------------- push: serve


def serve(args):
    secret = env("HERALD_SECRET")
    processed = Processed(os.environ.get("CONSUMER_DB", "consumer.db"))
    receipts = bool(os.environ.get("HERALD_ENDPOINT_KEY"))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {name.lower(): value for name, value in self.headers.items()}
            try:
                msg_id = verify(secret, headers, body)
            except ValueError as error:
                self.send_response(400)
                self.end_headers()
                self.wfile.write(str(error).encode())
                return
            process(processed, msg_id, headers.get("webhook-event-type", ""), json.loads(body), "push")
            # 2xx only after the work is durable: Herald retries anything else.
            self.send_response(204)
            self.end_headers()
            if receipts:
                # A lost receipt is not lost work: `reconcile` sends it again.
                try:
                    acknowledge([msg_id])
                except OSError as error:
                    print(f"receipt for {msg_id} not sent: {error}", file=sys.stderr)

        def log_message(self, *_):
            pass

    print(f"listening on 127.0.0.1:{args.port}", file=sys.stderr)
    http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


# ---------------------------------------------------------------- Herald's API


def env(name):
    value = os.environ.get(name)
    if not value:
        sys.exit(f"set {name}")
    return value


def endpoint_credential():
    """The endpoint key when there is one: it can do nothing but this endpoint's feed
    and receipts, which is all `serve` and `reconcile` need."""
    return os.environ.get("HERALD_ENDPOINT_KEY") or env("HERALD_TOKEN")


def call(method, path, token, body=None, **query):
    query = {k: v for k, v in query.items() if v not in (None, "")}
    url = env("HERALD_URL").rstrip("/") + path + ("?" + urllib.parse.urlencode(query) if query else "")
    data = None if body is None else json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def get(path, token=None, **query):
    return call("GET", path, token or env("HERALD_TOKEN"), **query)


def endpoint_path():
    return f"/api/v1/app/{env('HERALD_APP')}/endpoint/{env('HERALD_ENDPOINT')}"


def acknowledge(msg_ids):
    """A delivery receipt: tells Herald these messages were *processed*, not just
    received, so its "delivered, not confirmed" list shows only what really went
    missing. Up to 1,000 ids per call; repeating one is harmless."""
    msg_ids = list(msg_ids)
    for start in range(0, len(msg_ids), 1000):
        call("POST", endpoint_path() + "/receipt", endpoint_credential(), {"msgIds": msg_ids[start : start + 1000]})


# ---------------------------------------------------------------- reconcile


def reconcile(args):
    """Lists every message routed to the endpoint since a time, with its delivery state
    and receipt, processes the ones not yet processed (dead-lettered ones included),
    and acknowledges every one Herald holds no receipt for."""
    processed = Processed(os.environ.get("CONSUMER_DB", "consumer.db"))
    since = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=args.since_hours)
    listed = recovered = 0
    unacknowledged = []
    iterator = None
    while True:
        page = get(
            endpoint_path() + "/msg",
            endpoint_credential(),
            limit=250,
            after=since.isoformat(),
            iterator=iterator,
            with_content="true",
        )
        for message in page["data"]:
            listed += 1
            if process(processed, message["id"], message["eventType"], message["payload"], "reconcile"):
                recovered += 1
            if message.get("processedAt") is None:
                unacknowledged.append(message["id"])
        if page["done"]:
            break
        iterator = page["iterator"]
    acknowledge(unacknowledged)
    print(json.dumps({"listed": listed, "recovered": recovered, "acknowledged": len(unacknowledged)}))


# ---------------------------------------------------------------- pull


def pull(args):
    """Reads through a polling endpoint as a named consumer: Herald keeps the position,
    and sending the last iterator back commits it, so a crash re-reads at most a batch."""
    processed = Processed(os.environ.get("CONSUMER_DB", "consumer.db"))
    path = f"/api/v1/app/{env('HERALD_APP')}/poller/{env('HERALD_POLLER')}/consumer/{args.consumer}"
    read = recovered = 0
    iterator = None
    while True:
        page = get(path, limit=100, iterator=iterator, wait=args.wait if args.follow else None)
        for message in page["data"]:
            read += 1
            if process(processed, message["id"], message["eventType"], message["payload"], "pull"):
                recovered += 1
        iterator = page["iterator"]
        # A read that sent an iterator committed it: an empty, done page means the
        # consumer's position is at the end.
        if page["done"] and not page["data"] and not args.follow:
            break
    print(json.dumps({"read": read, "recovered": recovered}))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    serving = commands.add_parser("serve")
    serving.add_argument("--port", type=int, default=8000)
    reconciling = commands.add_parser("reconcile")
    reconciling.add_argument("--since-hours", type=float, default=24)
    pulling = commands.add_parser("pull")
    pulling.add_argument("--consumer", default="example-consumer")
    pulling.add_argument("--follow", action="store_true", help="keep reading (long-poll) instead of stopping")
    pulling.add_argument("--wait", type=int, default=25, help="seconds a read waits for new messages")
    args = parser.parse_args()
    {"serve": serve, "reconcile": reconcile, "pull": pull}[args.command](args)


if __name__ == "__main__":
    main()
