# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The lab's VNF manager: the reference consumer of Escalator's maintenance notifications.

It owns one project's VNF (a group of instances, one of them the active member) and speaks
the OpenStack Fenix project protocol, as a Fenix-speaking VNFM does:

- ``POST /maintenance`` takes an AODH event alarm whose event is ``maintenance.planned``
  (a project state) or ``maintenance.host`` (a host going into or out of maintenance).
- For ``MAINTENANCE`` it reads the instance list at ``instance_ids`` and says ACK (with
  ``--strict``, only when every one is its own); for ``PREPARE_MAINTENANCE`` / ``PLANNED_MAINTENANCE`` it moves its active
  role to a member that is not on the list *before* it answers ACK with an instance action
  per instance; for ``MAINTENANCE_COMPLETE`` it says ACK; ``INSTANCE_ACTION_DONE`` and the
  host events are recorded.
- Answers are ``PUT`` to ``reply_url``. Both directions carry Standard Webhooks signatures
  (HMAC-SHA256 over ``id.timestamp.body``) with the secret it shares with Escalator,
  implemented here with the standard library only, as a VNFM written apart would.

For tests, the file named by ``--mode-file`` (read on every notification) makes it answer
otherwise: ``nack``, ``silent``, ``bad_signature``, ``replay`` (send again the last answer,
byte for byte), ``wrong_session`` or ``wrong_project``. Everything it receives and sends
goes, one JSON object per line, to ``--log``. Standard library only; runs on Python 3.9+.
"""

import argparse
import base64
import hashlib
import hmac
import http.server
import json
import os
import ssl
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

MODES = ("ack", "nack", "silent", "bad_signature", "replay", "wrong_session", "wrong_project")
TOLERANCE = 300


def _key(secret):
    return base64.b64decode(secret[len("whsec_"):] if secret.startswith("whsec_") else secret)


def sign(key, body, msg_id=None, stamp=None):
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    stamp = str(int(stamp if stamp is not None else time.time()))
    mac = hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    return {"webhook-id": msg_id, "webhook-timestamp": stamp,
            "webhook-signature": "v1," + base64.b64encode(mac).decode()}


def verified(key, body, headers):
    """True when headers carry a fresh v1 signature of body made with key."""
    msg_id, stamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    try:
        if abs(time.time() - int(stamp)) > TOLERANCE:
            return False
    except ValueError:
        return False
    expected = sign(key, body, msg_id, stamp)["webhook-signature"]
    return any(hmac.compare_digest(expected, s) for s in headers.get("webhook-signature", "").split())


class Manager:
    def __init__(self, opts):
        self.opts = opts
        self.key = _key(open(opts.secret_file, encoding="utf-8").read().strip())
        # Escalator's reply URL over HTTPS: its certificate is checked against this CA file.
        self.tls = ssl.create_default_context(cafile=opts.ca_file) if opts.ca_file else None
        self.lock = threading.Lock()
        self.last_reply = None  # (url, headers, body) of the last answer, for replay mode

    # State kept in a file so a restart (or a test) sees it: members and the active one.
    def state(self):
        try:
            with open(self.opts.state_file, encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return {"members": [], "active": None}

    def save(self, state):
        tmp = self.opts.state_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(state, handle)
        os.replace(tmp, self.opts.state_file)

    def mode(self):
        try:
            with open(self.opts.mode_file, encoding="utf-8") as handle:
                mode = handle.read().strip() or "ack"
        except OSError:
            mode = "ack"
        return mode if mode in MODES else "ack"

    def log(self, **record):
        record["at"] = round(time.time(), 3)
        with self.lock, open(self.opts.log, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")

    def _request(self, method, url, body=b"", key=None):
        headers = dict(sign(key or self.key, body), **{"Content-Type": "application/json"})
        request = urllib.request.Request(url, data=body if method != "GET" else None, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=10, context=self.tls) as response:  # nosec - loopback
                return response.status, response.read(), headers
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), headers
        except OSError as exc:
            return None, str(exc).encode(), headers

    def instances(self, url):
        status, body, dummy = self._request("GET", url)
        if status != 200:
            self.log(kind="list_failed", url=url, status=status)
            return None
        return json.loads(body)["instance_ids"]

    def reply(self, payload, answer, actions=None):
        mode = self.mode()
        url = payload["reply_url"]
        body = {"session_id": payload["session_id"], "state": f"{answer}_{payload['state']}"}
        if actions:
            body["instance_actions"] = actions
        if mode == "silent":
            self.log(kind="reply", mode=mode, state=payload["state"], sent=False)
            return
        if mode == "replay" and self.last_reply:
            url, headers, data = self.last_reply
            request = urllib.request.Request(url, data=data, headers=headers, method="PUT")
            try:
                with urllib.request.urlopen(request, timeout=10, context=self.tls) as response:  # nosec
                    status = response.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except OSError:
                status = None
            self.log(kind="reply", mode=mode, state=payload["state"], sent=True, status=status)
            return
        if mode == "nack":
            body["state"] = f"NACK_{payload['state']}"
        if mode == "wrong_session":
            url = url.replace(payload["session_id"], str(uuid.uuid4()))
        if mode == "wrong_project":
            url = url.rstrip("/").rsplit("/", 1)[0] + "/not-" + payload["project_id"] + "/"
        key = os.urandom(32) if mode == "bad_signature" else None
        data = json.dumps(body).encode()
        status, dummy, headers = self._request("PUT", url, data, key=key)
        self.last_reply = (url, headers, data)
        self.log(kind="reply", mode=mode, state=payload["state"], reply=body["state"], sent=True, status=status,
                 actions=actions or {})

    def handle(self, event_type, payload):
        state = payload.get("state")
        if event_type == "maintenance.host":
            self.log(kind="host", state=state, host=payload.get("host"), session_id=payload.get("session_id"),
                     active=self.state().get("active"))
            return
        listed = None
        if state in ("MAINTENANCE", "PREPARE_MAINTENANCE", "PLANNED_MAINTENANCE", "SCALE_IN"):
            listed = self.instances(payload["instance_ids"])
        self.log(kind="notification", state=state, session_id=payload.get("session_id"),
                 host=(payload.get("metadata") or {}).get("host"), instances=listed,
                 instance_ids=payload.get("instance_ids") if state == "INSTANCE_ACTION_DONE" else None,
                 active=self.state().get("active"))
        if state == "INSTANCE_ACTION_DONE":
            return
        if listed is None and state != "MAINTENANCE_COMPLETE":
            return self.reply(payload, "NACK")
        current = self.state()
        members = current.get("members") or []
        if state == "MAINTENANCE":
            # Instances of the project that are not the VNF's: refused with --strict, else
            # left to the VIM (the lab's project also holds standalone instances).
            foreign = [i for i in listed if members and i not in members]
            if foreign:
                self.log(kind="foreign", instances=foreign)
            return self.reply(payload, "NACK" if foreign and self.opts.strict else "ACK")
        if state in ("PREPARE_MAINTENANCE", "PLANNED_MAINTENANCE", "SCALE_IN"):
            if current.get("active") in listed:
                spare = [m for m in members if m not in listed]
                if not spare:
                    self.log(kind="no_spare", state=state)
                    return self.reply(payload, "NACK")
                current["active"] = spare[0]
                self.save(current)
                self.log(kind="switched", active=spare[0], away_from=listed)
            allowed = payload.get("allowed_actions") or []
            action = "LIVE_MIGRATE" if "LIVE_MIGRATE" in allowed else (allowed or ["OWN_ACTION"])[0]
            return self.reply(payload, "ACK", {i: action for i in listed})
        return self.reply(payload, "ACK")


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "lab-vnfm"

    def log_message(self, *args):  # pylint: disable=arguments-differ
        return

    def _answer(self, status, text):
        body = json.dumps({"result": text}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/health":
            return self._answer(200, "ok")
        return self._answer(404, "not found")

    def do_POST(self):
        manager = self.server.manager
        body = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
        if self.path.rstrip("/") != "/maintenance":
            return self._answer(404, "not found")
        headers = {k.lower(): v for k, v in self.headers.items()}
        if not verified(manager.key, body, headers):
            manager.log(kind="rejected", reason="bad or missing signature")
            return self._answer(401, "bad signature")
        try:
            alarm = json.loads(body)
            event = alarm["reason_data"]["event"]
            payload = {}
            for name, dummy, value in event["traits"]:
                try:
                    payload[name] = json.loads(value) if value[:1] in "[{" else value
                except ValueError:
                    payload[name] = value
        except (ValueError, KeyError, TypeError):
            manager.log(kind="rejected", reason="not an event alarm")
            return self._answer(400, "not an AODH event alarm")
        self._answer(202, "accepted")
        # Answer the POST first: the reply goes to Escalator on its own, as in Fenix.
        threading.Thread(target=manager.handle, args=(event["event_type"], payload), daemon=True).start()
        return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret-file", required=True)
    parser.add_argument("--state-file", required=True, help="JSON: members (instance ids) and the active one")
    parser.add_argument("--mode-file", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--ca-file", help="the CA (or certificate) that Escalator's HTTPS reply URL is checked against")
    parser.add_argument("--strict", action="store_true", help="NACK a maintenance of hosts with instances not the VNF's")
    opts = parser.parse_args(argv)
    server = http.server.ThreadingHTTPServer((opts.bind, opts.port), Handler)
    server.daemon_threads = True
    server.manager = Manager(opts)
    print(f"lab VNFM on http://{opts.bind}:{opts.port}/maintenance", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
