# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

import concurrent.futures
import http.server
import json
import math
import re
import threading
import time
import urllib.parse

from ansible_collections.opnfv.escalator.plugins.plugin_utils._action import EscalatorAction
from ansible_collections.opnfv.escalator.plugins.plugin_utils import _coordination as proto
from ansible_collections.opnfv.escalator.plugins.plugin_utils._webhooks import (
    BIND_EMPTY, JsonRequestHandler, WebhookError, check_secret, post_signed, read_seen, refusal_status, serve_tls,
    verify, write_seen)

PROJECT_SPEC = {
    "project_id": {"type": "str", "required": True},
    "url": {"type": "str", "required": True},
    "secret": {"type": "str", "required": True, "no_log": True},
    "instances": {"type": "list", "elements": "str", "default": []},
}
ARGUMENT_SPEC = {
    "session_id": {"type": "str", "required": True},
    "state": {"type": "str", "required": True,
              "choices": list(proto.PROJECT_STATES) + [s for s in proto.HOST_STATES if s not in proto.PROJECT_STATES]},
    "event": {"type": "str", "default": "project", "choices": ["project", "host"]},
    "projects": {"type": "list", "elements": "dict", "required": True, "options": PROJECT_SPEC},
    "host": {"type": "str"},
    "allowed_actions": {"type": "list", "elements": "str", "default": ["LIVE_MIGRATE", "OWN_ACTION"]},
    "reply_timeout": {"type": "float", "default": 60},
    "policy": {"type": "str", "default": "fail", "choices": list(proto.POLICIES)},
    "bind": {"type": "str", "default": "127.0.0.1"},
    "port": {"type": "int", "required": True},
    "public_url": {"type": "str"},
    "tls_certfile": {"type": "path"},
    "tls_keyfile": {"type": "path"},
    "validate_certs": {"type": "bool", "default": True},
    "send_timeout": {"type": "float", "default": 5},
    "metadata": {"type": "dict", "default": {}},
    "replay_file": {"type": "path"},
}
MAX_BODY = 64 * 1024
MAX_TIMEOUT = 24 * 3600
_PATH = re.compile(r"^/v1/maintenance/([^/]+)/([^/]+)/?$")


class _Server(http.server.ThreadingHTTPServer):
    """Serves one exchange's reply URL: the instance list (GET) and the replies (PUT)."""

    daemon_threads = True

    def __init__(self, address, exchange):
        self.exchange = exchange
        super().__init__(address, _Handler)


class _Exchange:
    """What one call waits for, shared by the request threads under one lock."""

    def __init__(self, args, sessions, expects_reply):
        self.args, self.sessions, self.expects_reply = args, sessions, expects_reply
        self.secrets = {p["project_id"]: p["secret"] for p in args["projects"]}
        self.lock = threading.Condition()
        self.seen = set()
        self.sent_at = {}
        self.replies = {}
        self.rejected = []
        self.listed = {}

    def reject(self, remote, status, reason):
        with self.lock:
            self.rejected.append({"at": round(time.time(), 3), "remote": remote, "status": status,
                                  "reason": reason[:200]})

    def done(self):
        return all(p in self.replies for p in self.sessions)


class _Handler(JsonRequestHandler):

    def _refuse(self, status, reason):
        self.server.exchange.reject(self.client_address[0], status, reason)
        self.answer(status, {"result": reason})

    def _session(self):
        """The project's session the path names, after the signature is checked; None once answered."""
        exchange = self.server.exchange
        match = _PATH.match(urllib.parse.urlsplit(self.path).path)
        if not match:
            return self._refuse(404, f"wrong path {self.path[:80]!r}: use the reply_url of the notification"), None
        session_id, project_id = (urllib.parse.unquote(g) for g in match.groups())
        if session_id != exchange.args["session_id"]:
            return self._refuse(404, f"wrong session: {session_id[:80]!r} is not the session under way"), None
        if project_id not in exchange.sessions:
            return self._refuse(404, f"unknown project: {project_id[:80]!r} was not notified in this session"), None
        length = self.headers.get("Content-Length", "0" if self.command == "GET" else "")
        try:
            size = int(length)
        except ValueError:
            return self._refuse(411, "malformed: Content-Length is required"), None
        if not 0 <= size <= MAX_BODY:
            return self._refuse(413, f"malformed: the body is over {MAX_BODY} bytes"), None
        body = self.rfile.read(size)
        secret = exchange.secrets[project_id]
        try:
            # A GET is signed over its empty body: only the project's manager reads its list.
            # Judged under the lock: of two copies of one request, only the first is taken.
            with exchange.lock:
                data = verify(secret, body, dict(self.headers.items()), seen=exchange.seen,
                              field=f"projects.{project_id}.secret", empty_ok=self.command == "GET")
        except WebhookError as exc:
            reason = str(exc)
            return self._refuse(refusal_status(reason), reason), None
        return (project_id, data), True

    def do_GET(self):
        found, ok = self._session()
        if not ok:
            return None
        project_id = found[0]
        exchange = self.server.exchange
        with exchange.lock:
            exchange.listed[project_id] = exchange.listed.get(project_id, 0) + 1
        return self.answer(200, {"instance_ids": list(exchange.sessions[project_id].instances)})

    def do_PUT(self):
        found, ok = self._session()
        if not ok:
            return None
        project_id, data = found
        exchange = self.server.exchange
        if not exchange.expects_reply:
            return self._refuse(409, f"{exchange.args['state']} takes no reply")
        try:
            reply = proto.parse_reply(exchange.sessions[project_id], exchange.args["state"], data)
        except proto.CoordinationError as exc:
            return self._refuse(400, f"{project_id}: {exc}")
        with exchange.lock:
            if project_id in exchange.replies:
                answered = True
            else:
                answered = False
                exchange.replies[project_id] = {
                    "reply": reply.state, "ack": reply.ack, "instance_actions": reply.instance_actions,
                    "latency_s": round(time.monotonic() - exchange.sent_at.get(project_id, time.monotonic()), 3)}
                exchange.lock.notify_all()
        if answered:
            return self._refuse(409, f"{project_id} already answered {exchange.args['state']}")
        return self.answer(200, {"session_id": exchange.args["session_id"], "state": reply.state})

    def _not_allowed(self):
        self._refuse(405, f"method {self.command} not allowed: GET the instance list or PUT the reply")

    do_POST = do_DELETE = do_PATCH = do_HEAD = _not_allowed


class ActionModule(EscalatorAction):
    """One step of a maintenance session with the managers of the projects on a host; see the module."""

    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        problem = self._check(args)
        if problem:
            return dict(result, failed=True, msg=problem)
        state = args["state"]
        host_event = args["event"] == "host"
        expects_reply = not host_event and proto.PROJECT_STATES[state]
        scheme = "https" if args["tls_certfile"] else "http"
        endpoint = args["public_url"] or f"{scheme}://{args['bind']}:{args['port']}"
        metadata = dict(args["metadata"], **({"host": args["host"]} if args["host"] else {}))
        try:
            sessions = {p["project_id"]: proto.Session(project_id=p["project_id"], endpoint=endpoint,
                                                       instances=list(p["instances"]),
                                                       allowed_actions=tuple(args["allowed_actions"]),
                                                       metadata=metadata, session_id=args["session_id"])
                        for p in args["projects"]}
        except proto.CoordinationError as exc:
            return dict(result, failed=True, msg=str(exc))
        exchange = _Exchange(args, sessions, expects_reply)
        try:
            exchange.seen = read_seen(args["replay_file"])
        except WebhookError as exc:
            return dict(result, failed=True, msg=str(exc))
        result.update(changed=False, session_id=args["session_id"], state=state, url=endpoint)
        if not sessions:
            return dict(result, decision="go", exchanges=[], rejected=[], msg="no project to notify")

        server = None
        if not host_event:
            try:
                server = _Server((args["bind"], args["port"]), exchange)
            except (OSError, OverflowError, TypeError, ValueError) as exc:  # a name that cannot be encoded too
                return dict(result, failed=True,
                            msg=f"bind, port: cannot listen on {args['bind']}:{args['port']}: {exc}")
            if args["tls_certfile"]:
                try:
                    serve_tls(server, args["tls_certfile"], args["tls_keyfile"])
                except WebhookError as exc:
                    server.server_close()
                    return dict(result, failed=True, msg=str(exc))
        if self._task.check_mode:
            if server:
                server.server_close()
            return dict(result, decision="go", exchanges=[], rejected=[],
                        msg=f"check mode: would notify {', '.join(sessions)} of {state}; nothing sent")

        deliveries = {}
        try:
            if server:
                threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
            started = time.monotonic()
            deadline = started + args["reply_timeout"]
            with concurrent.futures.ThreadPoolExecutor(max_workers=min(8, len(sessions))) as pool:
                futures = {pool.submit(self._send, args, exchange, s, deadline): pid for pid, s in sessions.items()}
                for future in concurrent.futures.as_completed(futures):
                    deliveries[futures[future]] = future.result()
            if expects_reply:
                with exchange.lock:
                    while not exchange.done() and time.monotonic() < deadline:
                        exchange.lock.wait(min(0.5, max(0.0, deadline - time.monotonic())))
            waited = round(time.monotonic() - started, 3)
        finally:
            if server:
                server.shutdown()
                server.server_close()
        problem = write_seen(args["replay_file"], exchange.seen) if args["replay_file"] else None
        if problem:
            result.setdefault("warnings", []).append(problem)
        return self._result(result, args, exchange, deliveries, waited, expects_reply)

    @staticmethod
    def _send(args, exchange, session, deadline):
        """Deliver the notification to the project's manager: one per instance, each naming
        it, for INSTANCE_ACTION_DONE. The record of the last (or first failed) delivery."""
        now = time.time()
        if args["event"] == "host":
            payloads = [(proto.EVENT_HOST, proto.host_payload(session, args["host"], args["state"]))]
        elif args["state"] == "INSTANCE_ACTION_DONE":
            payloads = [(proto.EVENT_PROJECT, proto.project_payload(session, args["state"], now, args["reply_timeout"],
                                                                    instance_id=i)) for i in session.instances]
        else:
            payloads = [(proto.EVENT_PROJECT, proto.project_payload(session, args["state"], now, args["reply_timeout"]))]
        with exchange.lock:
            exchange.sent_at[session.project_id] = time.monotonic()
        project = next(p for p in args["projects"] if p["project_id"] == session.project_id)
        record, attempts = {"ok": True, "status": None, "attempts": 0, "error": None}, 0
        for event_type, payload in payloads:
            body = json.dumps(proto.alarm(event_type, payload, now), sort_keys=True).encode()
            record = post_signed(project["url"], project["secret"], body, "application/json", deadline,
                                 timeout=args["send_timeout"], validate_certs=args["validate_certs"], retries=10)
            attempts += record["attempts"]
            if not record["ok"]:
                break
        return dict(record, attempts=attempts)

    @staticmethod
    def _result(result, args, exchange, deliveries, waited, expects_reply):
        exchanges, missing, nacked = [], [], []
        for pid in exchange.sessions:
            sent = deliveries.get(pid, {})
            reply = exchange.replies.get(pid)
            row = {"project_id": pid, "state": args["state"], "delivered": bool(sent.get("ok")),
                   "delivery_status": sent.get("status"), "attempts": sent.get("attempts", 0),
                   "delivery_error": sent.get("error"), "instances": len(exchange.sessions[pid].instances),
                   "listed": exchange.listed.get(pid, 0)}
            if expects_reply:
                row.update(reply or {"reply": None, "ack": False, "instance_actions": {}, "latency_s": None})
                if reply is None:
                    missing.append(pid)
                elif not reply["ack"]:
                    nacked.append(pid)
            elif not sent.get("ok"):
                missing.append(pid)
            exchanges.append(row)
        result.update(exchanges=exchanges, rejected=exchange.rejected, waited=waited)
        if exchange.rejected:
            result.setdefault("warnings", []).extend(
                f"rejected a request from {r['remote']}: {r['reason']}" for r in exchange.rejected[:20])
        if not expects_reply:
            undelivered = ", ".join(f"{p} ({deliveries.get(p, {}).get('error')})" for p in missing)
            if missing:
                result.setdefault("warnings", []).append(f"{args['state']} not delivered to {undelivered}")
            return dict(result, decision="go", msg=f"{args['state']} sent to {len(exchange.sessions) - len(missing)} "
                                                   f"of {len(exchange.sessions)} project(s)")
        if not missing and not nacked:
            return dict(result, decision="go", msg=f"every project acknowledged {args['state']}")
        parts = []
        if nacked:
            parts.append(f"{', '.join(nacked)} answered NACK_{args['state']}")
        for pid in missing:
            sent = deliveries.get(pid, {})
            why = "was not delivered (" + str(sent.get("error")) + ")" if not sent.get("ok") else "did not answer"
            parts.append(f"{pid} {why} within {args['reply_timeout']:g} s")
        return dict(result, decision=args["policy"], timed_out=missing, nacked=nacked,
                    msg=f"{'; '.join(parts)}: policy {args['policy']}")

    @staticmethod
    def _check(args):
        ids = [p["project_id"] for p in args["projects"]]
        for i, project in enumerate(args["projects"]):
            where = f"projects[{i}]"
            if not project["project_id"] or "/" in project["project_id"]:
                return f"{where}.project_id: required, without '/'"
            if ids.count(project["project_id"]) > 1:
                return f"{where}.project_id: {project['project_id']!r} is given twice"
            url = urllib.parse.urlsplit(project["url"])
            if url.scheme not in ("http", "https") or not url.hostname:
                return f"{where}.url: an http:// or https:// URL with a host, not {project['url'][:80]!r}"
            try:
                check_secret(project["secret"], f"{where}.secret")
            except WebhookError as exc:
                return str(exc)
        if not args["session_id"] or "/" in args["session_id"]:
            return "session_id: required, without '/'"
        if not 1 <= args["port"] <= 65535:
            return f"port: {args['port']} is not a TCP port (1 to 65535)"
        if not args["bind"].strip():
            return BIND_EMPTY
        for key in ("reply_timeout", "send_timeout"):
            if not math.isfinite(args[key]) or not 0 < args[key] <= MAX_TIMEOUT:
                return f"{key}: seconds, more than 0 and at most {MAX_TIMEOUT}"
        bad = [a for a in args["allowed_actions"] if a not in proto.ACTIONS]
        if bad:
            return f"allowed_actions: {', '.join(bad)} not among {', '.join(proto.ACTIONS)}"
        states = proto.HOST_STATES if args["event"] == "host" else proto.PROJECT_STATES
        if args["state"] not in states:
            return f"state: {args['state']} is not a {args['event']} state ({', '.join(states)})"
        if args["event"] == "host" and not args["host"]:
            return f"host: required with event host ({args['state']} of a host)"
        if bool(args["tls_certfile"]) != bool(args["tls_keyfile"]):
            return "tls_certfile, tls_keyfile: give both or neither"
        if args["public_url"] and urllib.parse.urlsplit(args["public_url"]).scheme not in ("http", "https"):
            return "public_url: an http:// or https:// URL the managers reach this controller at"
        return None
