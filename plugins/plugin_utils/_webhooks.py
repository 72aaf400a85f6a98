# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Signed webhooks, both ways. Private to the opnfv.escalator collection.

Signatures follow Standard Webhooks (https://www.standardwebhooks.com): the headers
webhook-id, webhook-timestamp and webhook-signature (v1,<base64 HMAC-SHA256 of
"id.timestamp.body">), made and checked by the standardwebhooks library. What goes out
is Alertmanager's webhook JSON (version 4) or its API's list of alerts for alarms, and
CloudEvents 1.0 structured JSON for events. Deliveries are retried with backoff inside
one deadline and never raise: each ends as a record of what happened.
"""

from __future__ import annotations

import base64
import binascii
import concurrent.futures
import datetime
import hashlib
import http.server
import json
import math
import os
import ssl
import time
import urllib.parse
import uuid

try:
    from standardwebhooks.webhooks import Webhook
except ImportError:  # the action plugins say so, naming the package
    Webhook = None

from ansible.module_utils.urls import open_url
from ansible_collections.opnfv.escalator.plugins.module_utils._run_state import write_atomic

LIBRARY_MISSING = (
    "the Python package standardwebhooks is not installed on the controller: "
    "pip install standardwebhooks (requirements.txt pins it)")

# A signed request older or newer than this is refused (Standard Webhooks' tolerance).
TOLERANCE_SECONDS = 300
# An empty address listens on every address the host has: refused, it is a variable left empty.
BIND_EMPTY = "bind: empty; give the address to listen on (127.0.0.1 by default), 0.0.0.0 for every address"
# Standard Webhooks secrets: "whsec_" then base64 of 24 to 64 random bytes.
SECRET_PREFIX = "whsec_"
SECRET_BYTES = (24, 64)
SECRET_HINT = (
    "a Standard Webhooks secret is whsec_ followed by the base64 of 24 to 64 random bytes; "
    "make one with: python3 -c \"import base64, os; print('whsec_' + base64.b64encode(os.urandom(32)).decode())\"")

FORMATS = ("alertmanager", "alertmanager_api", "cloudevents")
# Abnormal events are alarms; the rest are milestones.
ALARMS = {
    "node_failed": "critical",
    "node_restored": "warning",
    "restore_failed": "critical",
    "step_hung": "critical",
    "run_stopped": "critical",
}
MILESTONES = ("run_started", "component_done", "run_done")
EVENTS = tuple(ALARMS) + MILESTONES
CLOUDEVENT_TYPE_PREFIX = "org.opnfv.escalator."
SOURCE = "/opnfv/escalator"


class WebhookError(Exception):
    """A webhook setting or a received request that is not acceptable; the message says why."""


def check_secret(secret, field):
    """The secret's key bytes; a WebhookError naming the field (never the secret) otherwise."""
    if not isinstance(secret, str) or not secret:
        raise WebhookError(f"{field}: required, a string; {SECRET_HINT}")
    text = secret[len(SECRET_PREFIX):] if secret.startswith(SECRET_PREFIX) else secret
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise WebhookError(f"{field}: not base64; {SECRET_HINT}") from None
    if not SECRET_BYTES[0] <= len(key) <= SECRET_BYTES[1]:
        raise WebhookError(f"{field}: {len(key)} bytes once decoded; {SECRET_HINT}")
    return key


def _signer(secret, field):
    if Webhook is None:
        raise WebhookError(LIBRARY_MISSING)
    return Webhook(check_secret(secret, field))


def sign(secret, body, msg_id=None, now=None, field="secret"):
    """The Standard Webhooks headers for body (bytes) sent now."""
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    stamp = datetime.datetime.fromtimestamp(int(now if now is not None else time.time()), datetime.timezone.utc)
    signature = _signer(secret, field).sign(msg_id, stamp, body.decode("utf-8"))
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(stamp.timestamp())), "webhook-signature": signature}


def verify(secret, body, headers, seen=None, now=None, field="secret", empty_ok=False):
    """The JSON object a signed request carries.

    Raises WebhookError with a short reason: unsigned, outside the 5-minute window, bad
    signature, replayed (its webhook-id is in seen, which is then updated), or malformed
    (not UTF-8 JSON holding an object). The reason never holds the secret. With empty_ok,
    a signed empty body (a GET's) is accepted and gives None."""
    signer = _signer(secret, field)
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    msg_id = lowered.get("webhook-id", "")
    stamp = lowered.get("webhook-timestamp", "")
    if not (msg_id and stamp and lowered.get("webhook-signature")):
        raise WebhookError("unsigned: webhook-id, webhook-timestamp and webhook-signature are all required")
    try:
        sent = float(stamp)
    except ValueError:
        raise WebhookError("malformed: webhook-timestamp is not a number of seconds") from None
    if math.isnan(sent) or abs((now if now is not None else time.time()) - sent) > TOLERANCE_SECONDS:
        raise WebhookError(f"stale: webhook-timestamp is more than {TOLERANCE_SECONDS} s from now")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookError("malformed: the body is not UTF-8") from None
    try:
        signer.verify(text, lowered, json_parse=False)
    except Exception:  # the library raises its own error, and ValueError on a mangled header
        raise WebhookError("bad signature: no v1 signature matches the body with the shared secret") from None
    if seen is not None:
        if msg_id in seen:
            raise WebhookError(f"replayed: webhook-id {msg_id[:80]} was already received")
        seen.add(msg_id)
    if empty_ok and not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        raise WebhookError("malformed: the body is not JSON") from None
    if not isinstance(data, dict):
        raise WebhookError("malformed: the body is JSON but not an object")
    return data


# The answer to a request refused by verify(), by the first word of its reason.
REFUSAL_STATUS = {"unsigned": 401, "bad signature": 401, "stale": 401, "replayed": 409, "malformed": 400}


def refusal_status(reason):
    """The HTTP status for a WebhookError's reason from verify()."""
    return REFUSAL_STATUS.get(reason.split(":", 1)[0], 400)


class JsonRequestHandler(http.server.BaseHTTPRequestHandler):
    """The receivers' request handler: each request has REQUEST_SECONDS to arrive whole (a
    stalled client cannot hold a wait), requests are recorded by the receiver rather than
    printed, and answers are JSON."""

    REQUEST_SECONDS = 5
    timeout = REQUEST_SECONDS
    server_version = "escalator"
    sys_version = ""

    def log_message(self, *args):  # pylint: disable=arguments-differ
        return

    def answer(self, status, data):
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def read_seen(path):
    """The webhook-ids a receiver kept in its replay file (none when path is empty or
    absent); a WebhookError naming replay_file when it cannot be read."""
    if not path or not os.path.exists(path):
        return set()
    try:
        with open(path, encoding="utf-8") as handle:
            return {line.strip() for line in handle if line.strip()}
    except (OSError, UnicodeDecodeError) as exc:
        raise WebhookError(f"replay_file: cannot be read: {exc}") from None


def write_seen(path, seen):
    """Keep seen in the replay file (replaced atomically); a warning when it cannot be."""
    try:
        write_atomic(path, "".join(f"{i}\n" for i in sorted(seen)))
    except OSError as exc:
        return f"replay_file: could not be written: {exc}"
    return None


def serve_tls(server, certfile, keyfile):
    """Make a listening server speak HTTPS with certfile and keyfile (PEM); a WebhookError
    naming them when they cannot be loaded."""
    try:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certfile, keyfile)
    except (OSError, ssl.SSLError) as exc:
        raise WebhookError(f"tls_certfile, tls_keyfile: cannot be loaded: {exc}") from None
    server.socket = context.wrap_socket(server.socket, server_side=True)


def _rfc3339(stamp):
    return datetime.datetime.fromtimestamp(stamp, datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def _labels(event):
    """Alertmanager labels: short strings, no message."""
    labels = {"alertname": "Escalator" + "".join(w.capitalize() for w in event["event"].split("_")),
              "severity": ALARMS.get(event["event"], "info"), "service": "escalator"}
    for key in ("campaign", "run_id", "component", "host", "code"):
        if event.get(key):
            labels[key] = str(event[key])
    return labels


def payload(fmt, event, receiver="escalator"):
    """The body and content type of event in one of FORMATS."""
    now = event.get("time", time.time())
    if fmt == "cloudevents":
        body = {"specversion": "1.0", "id": event.get("id") or str(uuid.uuid4()), "source": SOURCE,
                "type": CLOUDEVENT_TYPE_PREFIX + event["event"], "time": _rfc3339(now),
                "datacontenttype": "application/json", "data": {k: v for k, v in event.items() if k not in ("id", "time")}}
        subject = "/".join(str(event[k]) for k in ("component", "host") if event.get(k))
        if subject:
            body["subject"] = subject
        return body, "application/cloudevents+json"
    labels = _labels(event)
    alert = {"labels": labels,
             "annotations": {"summary": event.get("message") or event["event"].replace("_", " "),
                             "description": event.get("next") or ""},
             "startsAt": _rfc3339(now),
             "generatorURL": event.get("url") or ""}
    if fmt == "alertmanager_api":
        return [alert], "application/json"
    alert.update(status="firing", endsAt="0001-01-01T00:00:00Z",
                 fingerprint=hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16])
    group = {"alertname": labels["alertname"]}
    body = {"version": "4", "groupKey": "{}:" + json.dumps(group, sort_keys=True), "truncatedAlerts": 0,
            "status": "firing", "receiver": receiver, "groupLabels": group, "commonLabels": labels,
            "commonAnnotations": alert["annotations"], "externalURL": "", "alerts": [alert]}
    return body, "application/json"


def check_webhooks(webhooks, field="webhooks"):
    """The webhooks setting, normalized; WebhookError naming the field otherwise."""
    if webhooks is None:
        return []
    if not isinstance(webhooks, list):
        raise WebhookError(f"{field}: a list of webhooks (url, secret, format, events), not {type(webhooks).__name__}")
    known = {"name", "url", "secret", "format", "events", "validate_certs", "timeout"}
    out = []
    for i, hook in enumerate(webhooks):
        where = f"{field}[{i}]"
        if not isinstance(hook, dict):
            raise WebhookError(f"{where}: a mapping with url, secret and format, not {type(hook).__name__}")
        extra = sorted(set(hook) - known)
        if extra:
            raise WebhookError(f"{where}: unknown setting {', '.join(map(str, extra))}; known: {', '.join(sorted(known))}")
        url = hook.get("url")
        try:
            parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
            port = parts.port if parts else None  # ValueError when out of range
        except ValueError:
            parts = port = None
        if not parts or parts.scheme not in ("http", "https") or not parts.hostname:
            raise WebhookError(f"{where}.url: an http:// or https:// address with a host is required")
        fmt = hook.get("format", "cloudevents")
        if fmt not in FORMATS:
            raise WebhookError(f"{where}.format: {str(fmt)[:40]!r} is not one of {', '.join(FORMATS)}")
        check_secret(hook.get("secret"), f"{where}.secret")
        default = list(ALARMS) if fmt.startswith("alertmanager") else list(EVENTS)
        events = hook.get("events", default)
        if events == "all":
            events = list(EVENTS)
        if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
            raise WebhookError(f"{where}.events: a non-empty list of event names, or all")
        unknown = sorted(set(events) - set(EVENTS))
        if unknown:
            raise WebhookError(f"{where}.events: unknown {', '.join(unknown)}; known: {', '.join(EVENTS)}")
        timeout = hook.get("timeout", 5)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 60:
            raise WebhookError(f"{where}.timeout: seconds per attempt, more than 0 and at most 60")
        name = hook.get("name") or f"{parts.hostname}:{port or (443 if parts.scheme == 'https' else 80)}"
        out.append({"name": str(name), "url": url, "secret": hook["secret"], "format": fmt, "events": events,
                    "validate_certs": bool(hook.get("validate_certs", True)), "timeout": float(timeout)})
    return out


def _retry(status):
    return status is None or status in (408, 425, 429) or status >= 500


def deliver(hook, event, deadline, retries=3, backoff=0.5, opener=open_url, clock=time.monotonic, sleep=time.sleep):
    """Send event to one checked webhook, retrying within deadline (a clock() value).

    Returns {name, event, ok, status, attempts, seconds, error}: never the url or the secret."""
    body_obj, content_type = payload(hook["format"], event)
    record = post_signed(hook["url"], hook["secret"], json.dumps(body_obj, sort_keys=True).encode(), content_type,
                         deadline, timeout=hook["timeout"], validate_certs=hook["validate_certs"], retries=retries,
                         backoff=backoff, opener=opener, clock=clock, sleep=sleep)
    return dict({"name": hook["name"], "event": event["event"], "format": hook["format"]}, **record)


def post_signed(url, secret, body, content_type, deadline, timeout=10.0, validate_certs=True, retries=3, backoff=0.5,
                opener=open_url, clock=time.monotonic, sleep=time.sleep, method="POST"):
    """Send body (bytes) signed with secret to url, retrying a transport error, a 408, 425,
    429 or 5xx with backoff while deadline (a clock() value) allows. Never raises.

    Returns {ok, status, attempts, seconds, error, id}: never the url or the secret."""
    started = clock()
    msg_id = f"msg_{uuid.uuid4().hex}"  # the same id on every attempt: a receiver can drop duplicates
    record = {"ok": False, "status": None, "attempts": 0, "seconds": 0.0, "error": None, "id": msg_id}
    wait = backoff
    while record["attempts"] <= retries:
        left = deadline - clock()
        if left <= 0:
            record["error"] = record["error"] or "no time left"
            break
        record["attempts"] += 1
        headers = dict(sign(secret, body, msg_id=msg_id), **{"Content-Type": content_type})
        try:
            response = opener(url, data=body, headers=headers, method=method, timeout=max(0.1, min(timeout, left)),
                              validate_certs=validate_certs, follow_redirects="none")
            record["status"] = getattr(response, "status", None) or response.getcode()
            record["ok"] = True
            record["error"] = None
            break
        except Exception as exc:  # HTTPError carries a status; the rest are transport errors
            status = getattr(exc, "code", None)
            record["status"] = status if isinstance(status, int) else None
            reason = getattr(exc, "reason", None) or exc
            record["error"] = f"HTTP {status}" if isinstance(status, int) else f"{type(exc).__name__}: {reason}"
            if not _retry(record["status"]):
                break
        if record["attempts"] > retries or deadline - clock() <= wait:
            break
        sleep(wait)
        wait = min(wait * 2, 8)
    record["seconds"] = round(clock() - started, 3)
    return record


def deliver_all(hooks, event, max_seconds, retries=3, backoff=0.5, opener=open_url):
    """Deliver event to every hook that takes it, in parallel, all within max_seconds."""
    chosen = [h for h in hooks if event["event"] in h["events"]]
    if not chosen:
        return []
    deadline = time.monotonic() + max_seconds
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(8, len(chosen))) as pool:
        futures = [pool.submit(deliver, h, event, deadline, retries, backoff, opener) for h in chosen]
        return [f.result() for f in futures]
