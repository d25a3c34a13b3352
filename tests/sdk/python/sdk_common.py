"""Shared by sdk_v2.py and sdk_v1.py (each runs in its own venv with its own `svix`).

Only the standard library and `svix.webhooks` (present in every svix release) are used
here, so this module works with either SDK generation.

Environment:
  HERALD_SDK_SERVER_URL    Herald's base URL, e.g. http://127.0.0.1:18071
  HERALD_SDK_TOKEN         a tenant API key
  HERALD_SDK_RECEIVER_URL  a real HTTP receiver the endpoints point at
  HERALD_SDK_TIMEOUT       seconds to wait for deliveries (default 30)
  HERALD_SDK_KEEP_GOING=1  report every failed step instead of stopping at the first
                           (the exit code is still non-zero if any step failed)
"""

import json
import os
import sys
import time
import traceback
import uuid


def log(*args):
    print(*args, file=sys.stderr, flush=True)


class CheckFailed(Exception):
    pass


def check(condition, message):
    """An assertion that survives `python -O`."""
    if not condition:
        raise CheckFailed(message)


def check_eq(actual, expected, what):
    if actual != expected:
        raise CheckFailed(f"{what}: expected {expected!r}, got {actual!r}")


def env(name):
    value = os.environ.get(name)
    if not value:
        log(f"error: environment variable {name} is not set")
        sys.exit(2)
    return value


def run_id():
    return uuid.uuid4().hex[:12]


def timeout():
    return float(os.environ.get("HERALD_SDK_TIMEOUT", "30"))


def describe_error(error):
    """The SDK's exceptions carry the status and the body's code/detail as attributes."""
    parts = [f"{type(error).__name__}: {error}"]
    for attribute in ("status_code", "code", "detail", "additional_properties"):
        value = getattr(error, attribute, None)
        if value not in (None, "", {}):
            parts.append(f"{attribute}={value!r}")
    return " ".join(parts)


def http_status(error):
    """The HTTP status of an SDK error (HttpError / HTTPValidationError / ApiException), or None."""
    return getattr(error, "status_code", None)


class Steps:
    """Runs named steps in order; the first failure stops the script (exit 1) unless
    HERALD_SDK_KEEP_GOING=1, in which case every step runs and a summary is printed."""

    def __init__(self, name):
        self.name = name
        self.keep_going = os.environ.get("HERALD_SDK_KEEP_GOING") == "1"
        self.passed = []
        self.failed = []

    def run(self, title, function, *args):
        started = time.monotonic()
        try:
            result = function(*args)
        except Exception as error:  # noqa: BLE001 - every failure is reported the same way
            detail = describe_error(error)
            self.failed.append((title, detail))
            log(f"[{self.name}] FAIL {title}: {detail}")
            if not isinstance(error, CheckFailed) and http_status(error) is None:
                log(traceback.format_exc().rstrip())
            if not self.keep_going:
                log(f"[{self.name}] stopping at the first failure (set HERALD_SDK_KEEP_GOING=1 to run every step)")
                sys.exit(1)
            return None
        self.passed.append(title)
        log(f"[{self.name}] ok   {title} ({time.monotonic() - started:.2f}s)")
        return result

    def finish(self, summary):
        log(f"[{self.name}] {len(self.passed)} passed, {len(self.failed)} failed")
        for title, detail in self.failed:
            log(f"[{self.name}]   failed: {title}: {detail}")
        print(json.dumps(summary, sort_keys=True), flush=True)
        sys.exit(1 if self.failed else 0)


def poll(what, function, limit=None):
    """Calls `function` until it returns something truthy; fails after `limit` seconds."""
    limit = timeout() if limit is None else limit
    deadline = time.monotonic() + limit
    last_error = None
    while True:
        try:
            value = function()
            if value:
                return value
        except CheckFailed:
            raise
        except Exception as error:  # noqa: BLE001 - retried until the deadline
            last_error = error
        if time.monotonic() > deadline:
            suffix = f" (last error: {describe_error(last_error)})" if last_error else ""
            raise CheckFailed(f"timed out after {limit:.0f}s waiting for {what}{suffix}")
        time.sleep(0.2)


def page_all(list_page, limit, what, max_pages=200):
    """Pages through a Svix list with `iterator` and returns every item. `list_page(iterator)`
    returns one ListResponse. Fails if the server loops or a page is larger than `limit`."""
    items = []
    iterator = None
    seen_iterators = set()
    for _ in range(max_pages):
        page = list_page(iterator)
        check(len(page.data) <= limit, f"{what}: page of {len(page.data)} items exceeds limit={limit}")
        items.extend(page.data)
        if page.done:
            return items
        check(page.iterator, f"{what}: done=false but no iterator to continue with")
        check(page.iterator not in seen_iterators, f"{what}: iterator {page.iterator!r} repeated")
        seen_iterators.add(page.iterator)
        iterator = page.iterator
    raise CheckFailed(f"{what}: still not done after {max_pages} pages")


def exactly_once(ids, expected, what):
    """Every id in `expected` appears exactly once in `ids`; `ids` has no duplicates."""
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    check(not duplicates, f"{what}: ids seen more than once: {duplicates}")
    missing = sorted(set(expected) - set(ids))
    check(not missing, f"{what}: ids never seen: {missing} (saw {ids})")


def verify_main(name):
    """`script verify`: stdin is [{"secret", "body", "headers"}]; each is verified with
    the SDK's own verifier, svix.webhooks.Webhook(secret).verify(body, headers)."""
    from svix.webhooks import Webhook

    cases = json.load(sys.stdin)
    for index, case in enumerate(cases):
        try:
            Webhook(case["secret"]).verify(case["body"], case["headers"])
        except Exception as error:  # noqa: BLE001
            header_names = sorted(case.get("headers", {}))
            log(f"[{name}] case {index} does not verify: {describe_error(error)}; headers present: {header_names}")
            sys.exit(1)
    print("verified", len(cases), flush=True)
