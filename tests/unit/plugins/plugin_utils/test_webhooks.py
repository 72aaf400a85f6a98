"""Signed webhooks: signatures checked by the standardwebhooks library itself, each way a
request is refused, the payload formats, the settings' errors, retries inside a deadline."""

import base64
import json
import time
import urllib.error

import pytest
from standardwebhooks.webhooks import Webhook

from ansible_collections.opnfv.escalator.plugins.plugin_utils import _webhooks as w

KEY = bytes(range(32))
SECRET = "whsec_" + base64.b64encode(KEY).decode()
OTHER = "whsec_" + base64.b64encode(bytes(32)).decode()


def signed(body, secret=SECRET, **kw):
    data = json.dumps(body).encode()
    return data, w.sign(secret, data, **kw)


def test_a_signature_made_here_verifies_with_the_library_and_back():
    data, headers = signed({"type": "storage.healthy"})
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(SECRET).verify(data, headers) == {"type": "storage.healthy"}
    stamp = Webhook(SECRET).sign("msg_x", __import__("datetime").datetime.now(__import__("datetime").timezone.utc),
                                 data.decode())
    theirs = {"webhook-id": "msg_x", "webhook-timestamp": str(int(time.time())), "webhook-signature": stamp}
    assert w.verify(SECRET, data, theirs) == {"type": "storage.healthy"}


@pytest.mark.parametrize("change, reason", [
    (lambda d, h: (d.replace(b"healthy", b"hacked!"), h), "bad signature"),
    (lambda d, h: (d, dict(h, **{"webhook-signature": "v1,AAAA"})), "bad signature"),
    (lambda d, h: (d, dict(h, **{"webhook-signature": "garbage"})), "bad signature"),
    (lambda d, h: (d, {k: v for k, v in h.items() if k != "webhook-signature"}), "unsigned"),
    (lambda d, h: (d, {}), "unsigned"),
    (lambda d, h: (d, dict(h, **{"webhook-timestamp": "soon"})), "malformed"),
    (lambda d, h: (d, dict(h, **{"webhook-timestamp": "nan"})), "stale"),
])
def test_a_request_not_signed_right_is_refused_with_its_reason(change, reason):
    data, headers = change(*signed({"type": "storage.healthy"}))
    with pytest.raises(w.WebhookError, match=f"^{reason}"):
        w.verify(SECRET, data, headers)


def test_a_signature_with_another_secret_is_refused():
    data, headers = signed({"a": 1}, secret=OTHER)
    with pytest.raises(w.WebhookError, match="^bad signature"):
        w.verify(SECRET, data, headers)


@pytest.mark.parametrize("age", [-301, 301, 3600])
def test_a_timestamp_more_than_five_minutes_away_is_refused_even_if_signed(age):
    data, headers = signed({"a": 1}, now=time.time() + age)
    with pytest.raises(w.WebhookError, match="^stale"):
        w.verify(SECRET, data, headers)


def test_a_replay_is_refused_once_its_id_was_seen():
    data, headers = signed({"a": 1})
    seen = set()
    assert w.verify(SECRET, data, headers, seen=seen) == {"a": 1}
    with pytest.raises(w.WebhookError, match="^replayed"):
        w.verify(SECRET, data, headers, seen=seen)


@pytest.mark.parametrize("body, reason", [(b"[1, 2]", "not an object"), (b"{not json", "not JSON"),
                                          (b"\xff\xfe{}", "not UTF-8")])
def test_a_signed_body_that_is_not_a_json_object_is_malformed(body, reason):
    headers = {"webhook-id": "m1", "webhook-timestamp": str(int(time.time())),
               "webhook-signature": Webhook(KEY).sign("m1", __import__("datetime").datetime.now(),
                                                      body.decode("latin-1"))}
    if reason != "not UTF-8":
        headers = w.sign(SECRET, body, msg_id="m1")
    with pytest.raises(w.WebhookError, match=f"^malformed.*{reason}"):
        w.verify(SECRET, body, headers)


@pytest.mark.parametrize("secret, says", [
    ("", "required"), (None, "required"), ("whsec_not base64!", "not base64"),
    ("whsec_" + base64.b64encode(b"short").decode(), "5 bytes"), (12345, "required"),
])
def test_a_bad_secret_is_named_and_never_shown(secret, says):
    with pytest.raises(w.WebhookError) as err:
        w.check_secret(secret, "webhooks[0].secret")
    assert str(err.value).startswith("webhooks[0].secret: ") and says in str(err.value)
    if isinstance(secret, str) and secret:
        assert secret not in str(err.value) and secret[6:] not in str(err.value)


def test_cloudevents_payload_is_structured_json_of_spec_1_0():
    body, kind = w.payload("cloudevents", {"event": "component_done", "component": "nova", "host": "cmp1",
                                           "run_id": "r1", "time": 0})
    assert kind == "application/cloudevents+json"
    assert {k: body[k] for k in ("specversion", "type", "source", "subject", "time", "datacontenttype")} == {
        "specversion": "1.0", "type": "org.opnfv.escalator.component_done", "source": "/opnfv/escalator",
        "subject": "nova/cmp1", "time": "1970-01-01T00:00:00Z", "datacontenttype": "application/json"}
    assert body["id"] and body["data"]["run_id"] == "r1"


def test_alertmanager_payloads_carry_labels_an_alertmanager_routes_on():
    event = {"event": "node_failed", "component": "keystone", "host": "ctl2", "code": "ESC-VERIFY-001",
             "message": "keystone on ctl2 failed", "run_id": "r1", "campaign": "lab", "time": 10}
    body, kind = w.payload("alertmanager", event)
    assert kind == "application/json" and body["version"] == "4" and body["status"] == "firing"
    (alert,) = body["alerts"]
    assert alert["labels"] == {"alertname": "EscalatorNodeFailed", "severity": "critical", "service": "escalator",
                               "campaign": "lab", "run_id": "r1", "component": "keystone", "host": "ctl2",
                               "code": "ESC-VERIFY-001"}
    assert alert["annotations"]["summary"] == "keystone on ctl2 failed" and alert["status"] == "firing"
    api, dummy = w.payload("alertmanager_api", event)
    assert isinstance(api, list) and api[0]["labels"] == alert["labels"] and "status" not in api[0]


HOOK = {"url": "http://127.0.0.1:9/h", "secret": SECRET}


@pytest.mark.parametrize("hooks, field, says", [
    ("http://x", "webhooks", "a list"),
    (["http://x"], "webhooks[0]", "a mapping"),
    ([dict(HOOK, url="ftp://127.0.0.1/")], "webhooks[0].url", "http:// or https://"),
    ([dict(HOOK, url="http://127.0.0.1:99999/")], "webhooks[0].url", "http:// or https://"),
    ([dict(HOOK, url=None)], "webhooks[0].url", "http:// or https://"),
    ([HOOK, dict(HOOK, format="slack")], "webhooks[1].format", "not one of"),
    ([dict(HOOK, events=["node_exploded"])], "webhooks[0].events", "unknown node_exploded"),
    ([dict(HOOK, events=[])], "webhooks[0].events", "non-empty"),
    ([dict(HOOK, timeout=float("inf"))], "webhooks[0].timeout", "at most 60"),
    ([dict(HOOK, timeout=True)], "webhooks[0].timeout", "at most 60"),
    ([dict(HOOK, sceret="x")], "webhooks[0]", "unknown setting sceret"),
    ([dict(HOOK, secret="whsec_")], "webhooks[0].secret", "0 bytes"),
])
def test_webhook_settings_that_are_wrong_name_their_field(hooks, field, says):
    with pytest.raises(w.WebhookError) as err:
        w.check_webhooks(hooks)
    assert str(err.value).startswith(field + ": ") and says in str(err.value)
    assert SECRET not in str(err.value)


def test_webhook_defaults_alarms_for_alertmanager_everything_for_cloudevents():
    am, ce = w.check_webhooks([dict(HOOK, format="alertmanager"), HOOK])
    assert am["events"] == list(w.ALARMS) and ce["events"] == list(w.EVENTS)
    assert am["name"] == "127.0.0.1:9" and am["timeout"] == 5.0


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def opener_from(answers, clock, calls):
    def opener(url, **kw):
        calls.append(kw)
        clock.now += 0.1
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return type("R", (), {"status": answer, "getcode": lambda self: answer})()
    return opener


def err(code):
    return urllib.error.HTTPError("http://127.0.0.1:9/h", code, "x", {}, None)


def test_a_delivery_is_retried_on_5xx_and_refusal_with_the_same_id_then_succeeds():
    clock, calls = Clock(), []
    (hook,) = w.check_webhooks([HOOK])
    record = w.deliver(hook, {"event": "run_done"}, deadline=30, opener=opener_from(
        [err(503), ConnectionRefusedError("refused"), 200], clock, calls), clock=clock, sleep=clock.sleep)
    assert record["ok"] and record["attempts"] == 3 and record["status"] == 200 and record["error"] is None
    assert len({c["headers"]["webhook-id"] for c in calls}) == 1
    assert clock.now == pytest.approx(0.3 + 0.5 + 1.0)
    assert "url" not in record and SECRET not in json.dumps(record)


def test_a_4xx_answer_is_not_retried():
    clock, calls = Clock(), []
    (hook,) = w.check_webhooks([HOOK])
    record = w.deliver(hook, {"event": "run_done"}, deadline=30, opener=opener_from([err(401), 200], clock, calls),
                       clock=clock, sleep=clock.sleep)
    assert not record["ok"] and record["attempts"] == 1 and record["error"] == "HTTP 401"


def test_retries_stop_at_the_deadline():
    clock, calls = Clock(), []
    (hook,) = w.check_webhooks([HOOK])
    record = w.deliver(hook, {"event": "run_done"}, deadline=2.0, retries=10,
                       opener=opener_from([err(500)] * 20, clock, calls), clock=clock, sleep=clock.sleep)
    assert not record["ok"] and clock.now <= 2.0 and record["attempts"] == 3 and record["error"] == "HTTP 500"


def test_only_the_webhooks_that_take_the_event_get_it():
    hooks = w.check_webhooks([dict(HOOK, format="alertmanager"), dict(HOOK, events=["run_done"])])
    assert w.deliver_all(hooks, {"event": "run_started"}, 1, opener=None) == []
