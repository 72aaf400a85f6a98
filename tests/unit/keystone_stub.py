"""A stand-in for Keystone's token API on loopback, for unit and engine tests (the lab's
tests use the real Keystone): GET validates its one token, POST trades its one password."""

import datetime
import http.server
import json
import threading

TOKEN = "gAAAAAB-valid-token-of-alice"
PASSWORD = "alice-secret-password"
LATER = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)).isoformat().replace("+00:00", "Z")


def body(roles, project="admin", expires=LATER):
    token = {"user": {"name": "alice", "id": "u1", "domain": {"name": "Default"}}, "expires_at": expires,
             "roles": [{"name": r} for r in roles]}
    if project:
        token["project"] = {"name": project, "id": "p-" + project}
    return {"token": token}


class FakeKeystone(http.server.ThreadingHTTPServer):
    def __init__(self, token_body):
        self.token_body = token_body
        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        return

    def _send(self, status, data, headers=()):
        raw = json.dumps(data).encode()
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self):
        if self.path != "/v3/auth/tokens":
            return self._send(404, {})
        ok = self.headers.get("X-Auth-Token") == TOKEN == self.headers.get("X-Subject-Token")
        return self._send(200, self.server.token_body) if ok else self._send(404, {"error": {"code": 404}})

    def do_POST(self):
        sent = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        password = sent["auth"]["identity"]["password"]["user"]["password"]
        if password != PASSWORD:
            return self._send(401, {"error": {"code": 401}})
        return self._send(201, self.server.token_body, [("X-Subject-Token", TOKEN)])
