"""A webhook receiver on a loopback address, for the lab and the tests: it checks each
delivery's Standard Webhooks signature with the standardwebhooks library (independently
of Escalator's own code) and records every delivery, verified or not, as one JSON line.

    python3 lab/webhook_receiver.py --port 9099 --secret-file SECRET --out deliveries.jsonl

Each line: time received, path, whether the signature verified (and why not), the
webhook-id, and the JSON body. SIGTERM or Ctrl-C stops it.
"""

import argparse
import http.server
import json
import signal
import sys
import threading
import time

from standardwebhooks.webhooks import Webhook


class Receiver(http.server.ThreadingHTTPServer):
    """Serves in a thread of its own; .deliveries holds what came, in order."""

    daemon_threads = True

    def __init__(self, secret, host="127.0.0.1", port=0, out=None, status=200):
        self.webhook = Webhook(secret)
        self.deliveries = []
        self.out = out
        self.status = status
        self.lock = threading.Lock()
        super().__init__((host, port), _Handler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.shutdown()
        self.server_close()

    @property
    def url(self):
        return f"http://{self.server_address[0]}:{self.server_address[1]}"

    def record(self, entry):
        with self.lock:
            self.deliveries.append(entry)
            if self.out:
                with open(self.out, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps(entry, sort_keys=True) + "\n")

    def verified(self, path=None):
        """The verified bodies, in order of arrival, optionally only those sent to path."""
        return [d["body"] for d in self.deliveries if d["verified"] and (path is None or d["path"] == path)]


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        return

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        entry = {"at": time.time(), "path": self.path, "id": self.headers.get("webhook-id"),
                 "content_type": self.headers.get("Content-Type"), "verified": False, "error": None, "body": None}
        try:
            entry["body"] = self.server.webhook.verify(body, dict(self.headers.items()))
            entry["verified"] = True
        except Exception as exc:  # recorded: the tests assert on it
            entry["error"] = f"{type(exc).__name__}: {exc}"
        self.server.record(entry)
        self.send_response(self.server.status if entry["verified"] else 401)
        self.send_header("Content-Length", "0")
        self.end_headers()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret-file", required=True, help="a file holding the whsec_ secret")
    parser.add_argument("--out", required=True, help="the JSON-lines file deliveries are appended to")
    args = parser.parse_args(argv)
    if not args.host.startswith("127."):
        parser.error("--host: the lab listens on loopback addresses only (127.x.y.z)")
    with open(args.secret_file, encoding="utf-8") as handle:
        secret = handle.read().strip()
    receiver = Receiver(secret, args.host, args.port, out=args.out)
    signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=receiver.shutdown).start())
    print(f"receiving on {receiver.url}", flush=True)
    try:
        receiver.serve_forever()
    except KeyboardInterrupt:
        pass
    receiver.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
