"""notify and wait_for_notification in real playbooks on localhost, against real loopback
HTTP peers: deliveries signed and checked by the standardwebhooks library, never a secret
in the output at -vvvv, each bad request refused and the wait going on, timeouts, replays."""

import base64
import datetime
import http.server
import json
import os
import pathlib
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
import yaml
from standardwebhooks.webhooks import Webhook

ROOT = pathlib.Path(__file__).resolve().parents[4]
SECRET = "whsec_" + base64.b64encode(bytes(range(1, 33))).decode()
TOKEN = "path-token-9f8e7d"


def command(tmp_path, tasks, *extra):
    book = tmp_path / "play.yml"
    book.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    return ["ansible-playbook", "-i", "localhost,", "-c", "local", str(book), *extra], env


def play(tmp_path, tasks, *extra, callback="ansible.builtin.json"):
    argv, env = command(tmp_path, tasks, *extra)
    proc = subprocess.run(argv, cwd=ROOT, env=dict(env, ANSIBLE_STDOUT_CALLBACK=callback), capture_output=True,
                          text=True, timeout=120, check=False)
    if callback != "ansible.builtin.json":
        return proc
    out = json.loads(proc.stdout[proc.stdout.index("{"):])
    return proc.returncode, [t["hosts"]["localhost"] for t in out["plays"][0]["tasks"]]


class Receiver(http.server.ThreadingHTTPServer):
    def __init__(self, status=200):
        self.got, self.status = [], status
        super().__init__(("127.0.0.1", 0), ReceiverHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/hook/{TOKEN}"


class ReceiverHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        return

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.got.append((dict(self.headers.items()), body))
        self.send_response(self.server.status)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def receivers():
    made = []
    yield lambda status=200: made.append(Receiver(status)) or made[-1]
    for r in made:
        r.shutdown()
        r.server_close()


def test_an_alarm_and_an_event_are_delivered_signed_and_no_secret_is_printed_at_vvvv(tmp_path, receivers):
    alerts, events = receivers(), receivers()
    task = {"opnfv.escalator.notify": {
        "webhooks": [{"name": "am", "url": alerts.url, "secret": SECRET, "format": "alertmanager"},
                     {"url": events.url, "secret": SECRET}],
        "event": "node_failed", "component": "keystone", "host": "ctl2", "code": "ESC-VERIFY-001",
        "message": "keystone on ctl2 failed its verify and was restored", "run_id": "r1"}, "register": "sent"}
    proc = play(tmp_path, [task, {"ansible.builtin.debug": {"var": "sent"}}], "-vvvv", callback="ansible.builtin.default")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (am_headers, am_body), = alerts.got
    (ce_headers, ce_body), = events.got
    alert = Webhook(SECRET).verify(am_body, am_headers)
    assert alert["alerts"][0]["labels"]["alertname"] == "EscalatorNodeFailed"
    assert alert["alerts"][0]["labels"]["code"] == "ESC-VERIFY-001"
    event = Webhook(SECRET).verify(ce_body, ce_headers)
    assert event["type"] == "org.opnfv.escalator.node_failed" and ce_headers["Content-Type"] == "application/cloudevents+json"
    for text in (proc.stdout, proc.stderr):
        assert SECRET not in text and SECRET[6:] not in text and TOKEN not in text
    assert "ok: true" in proc.stdout and "name: am" in proc.stdout  # ansible.cfg: result_format yaml


def test_an_unreachable_or_refusing_webhook_warns_and_never_fails_or_holds_the_run(tmp_path, receivers):
    refusing = receivers(status=503)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    started = time.monotonic()
    rc, (result,) = play(tmp_path, [{"opnfv.escalator.notify": {
        "webhooks": [{"url": refusing.url, "secret": SECRET}, {"url": f"http://127.0.0.1:{dead}/", "secret": SECRET}],
        "event": "run_done", "max_seconds": 2, "retries": 10}}])
    assert rc == 0 and not result.get("failed") and time.monotonic() - started < 30
    by_name = {d["name"]: d for d in result["deliveries"]}
    assert not any(d["ok"] for d in by_name.values())
    assert by_name[f"127.0.0.1:{refusing.server_address[1]}"]["error"] == "HTTP 503"
    assert all(d["seconds"] <= 2.5 for d in by_name.values()) and len(refusing.got) >= 2
    assert len(result["warnings"]) == 2 and "was not delivered to webhook" in result["warnings"][0]


def test_a_wrong_webhook_setting_fails_before_anything_is_sent(tmp_path, receivers):
    hook, short = receivers(), base64.b64encode(b"twelve bytes").decode()
    rc, (result,) = play(tmp_path, [{"opnfv.escalator.notify": {
        "webhooks": [{"url": hook.url, "secret": SECRET}, {"url": hook.url, "secret": short}],
        "event": "run_started"}}])
    assert rc == 2 and result["msg"].startswith("webhooks[1].secret: 12 bytes") and hook.got == []
    assert short not in json.dumps(result)


def test_check_mode_sends_nothing(tmp_path, receivers):
    hook = receivers()
    rc, (result,) = play(tmp_path, [{"opnfv.escalator.notify": {
        "webhooks": [{"url": hook.url, "secret": SECRET}], "event": "run_started"}}], "--check")
    assert rc == 0 and hook.got == [] and "nothing was sent" in result["msg"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(port, body, headers, path="/ready", method="POST"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def signed(body, secret=SECRET, msg_id=None, stamp=None):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    msg_id = msg_id or f"msg_{time.monotonic_ns()}"
    when = datetime.datetime.fromtimestamp(stamp or time.time(), datetime.timezone.utc)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(when.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, when, data.decode("utf-8", "replace")),
            "Content-Type": "application/json"}


def start_wait(tmp_path, **options):
    port = free_port()
    args = dict({"port": port, "path": "/ready", "secret": SECRET, "timeout": 60,
                 "match": {"type": "storage.health", "data.status": "HEALTH_OK"}}, **options)
    argv, env = command(tmp_path, [{"opnfv.escalator.wait_for_notification": args}], "-vvvv")
    proc = subprocess.Popen(argv, cwd=ROOT, env=dict(env, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, port
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    raise AssertionError("the wait never listened")


def finish(proc):
    out, err = proc.communicate(timeout=90)
    assert SECRET not in out + err and SECRET[6:] not in out + err
    return proc.returncode, json.loads(out[out.index("{"):])["plays"][0]["tasks"][0]["hosts"]["localhost"]


OK = {"type": "storage.health", "data": {"status": "HEALTH_OK"}}


def test_only_a_signed_fresh_matching_notification_ends_the_wait(tmp_path):
    proc, port = start_wait(tmp_path)
    try:
        assert post(port, OK, {}, method="GET") == 405
        assert post(port, OK, {"Content-Type": "application/json"}) == 401                  # unsigned
        assert post(port, OK, signed(OK, secret="whsec_" + base64.b64encode(bytes(32)).decode())) == 401
        assert post(port, OK, signed(OK, stamp=time.time() - 600)) == 401                    # stale
        assert post(port, b"{not json", signed(b"{not json")) == 400                         # malformed
        assert post(port, OK, signed(OK), path="/other") == 404
        degraded = {"type": "storage.health", "data": {"status": "HEALTH_WARN"}}
        first = signed(degraded, msg_id="msg_degraded")
        assert post(port, degraded, first) == 202                                            # not awaited
        assert post(port, degraded, first) == 409                                            # replayed
        assert post(port, OK, signed(OK, msg_id="msg_ok")) == 200
    finally:
        rc, result = finish(proc)
    assert rc == 0 and result["received"] == OK and result["id"] == "msg_ok" and result["timed_out"] is False
    assert result["ignored"] == 1
    reasons = [r["reason"].split(":")[0] for r in result["rejected"]]
    assert reasons == ["method GET not allowed", "unsigned", "bad signature", "stale", "malformed",
                       "wrong path '/other'", "replayed"]
    assert len(result["warnings"]) == 7


def test_a_timeout_fails_or_goes_on_as_asked(tmp_path):
    proc, port = start_wait(tmp_path, timeout=1)
    rc, result = finish(proc)
    assert rc == 2 and result["timed_out"] is True and "within 1 s" in result["msg"]
    proc, port = start_wait(tmp_path, timeout=1, on_timeout="continue")
    rc, result = finish(proc)
    assert rc == 0 and result["received"] is None and "going on" in result["msg"]


def test_a_replay_file_refuses_a_notification_accepted_by_an_earlier_wait(tmp_path):
    seen = tmp_path / "seen"
    headers = signed(OK, msg_id="msg_once")
    proc, port = start_wait(tmp_path, replay_file=str(seen))
    assert post(port, OK, headers) == 200
    assert finish(proc)[0] == 0 and "msg_once" in seen.read_text()
    proc, port = start_wait(tmp_path, replay_file=str(seen), timeout=3)
    assert post(port, OK, headers) == 409
    rc, result = finish(proc)
    assert rc == 2 and result["rejected"][0]["reason"].startswith("replayed")


@pytest.mark.parametrize("options, says", [
    ({"port": 70000}, "port: 70000 is not a TCP port"),
    ({"timeout": float("inf")}, "timeout: seconds"),
    ({"path": "ready"}, "path: an absolute URL path"),
    ({"secret": "plain words"}, "secret: not base64"),
    ({"tls_certfile": "/nonexistent.pem"}, "tls_certfile, tls_keyfile: give both"),
])
def test_wrong_wait_settings_are_named(tmp_path, options, says):
    args = dict({"port": free_port(), "secret": SECRET, "timeout": 5}, **options)
    rc, (result,) = play(tmp_path, [{"opnfv.escalator.wait_for_notification": args}])
    assert rc == 2 and result["msg"].startswith(says), result["msg"]
