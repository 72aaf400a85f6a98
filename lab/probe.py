"""Traffic probe: how the people using the cloud see it during an upgrade.

Workers issue a Keystone token through the load balancer and validate it (at the same
address, or with --validate-url at another one, such as a second site sharing the
Keystone database), over and over, at a fixed concurrency, for a given time or until
SIGTERM/SIGINT. Every request is recorded (time, backend that answered, status,
latency) and a JSON summary is printed: total and failed requests, failures by status,
the longest window in which no request succeeded, p50/p99 latency and requests per
second.

Standard library only, so it runs with any Python 3.11 on the controller.
"""

import argparse
import dataclasses
import http.client
import json
import signal
import socket
import sys
import threading
import time
import urllib.parse

ISSUE = "issue"
VALIDATE = "validate"
EXPECTED_STATUS = {ISSUE: 201, VALIDATE: 200}


@dataclasses.dataclass
class Record:
    """One request as the probe saw it. Times are seconds since the run started."""

    start: float
    end: float
    kind: str
    status: int  # 0 when no HTTP answer came back at all
    backend: str = ""
    error: str = ""

    @property
    def ok(self):
        return self.status == EXPECTED_STATUS[self.kind]

    @property
    def failure_key(self):
        return self.error or str(self.status)


def percentile(values, fraction):
    """Nearest-rank percentile of a non-empty list; None for an empty one."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, int(-(-fraction * len(ordered) // 1)))
    return ordered[min(rank, len(ordered)) - 1]


def longest_gap(success_times, start, end):
    """Longest interval within [start, end] that holds no successful request.

    A run with no success at all is one gap as long as the run.
    """
    edges = [start] + sorted(t for t in success_times if start <= t <= end) + [end]
    return max(b - a for a, b in zip(edges, edges[1:]))


def summarize(records, duration):
    """The probe's figures for a list of Record over a run of `duration` seconds."""
    failures = {}
    backends = {}
    for rec in records:
        if not rec.ok:
            failures[rec.failure_key] = failures.get(rec.failure_key, 0) + 1
        if rec.backend:
            backends[rec.backend] = backends.get(rec.backend, 0) + 1
    latencies = [(r.end - r.start) * 1000.0 for r in records if r.ok]
    failed_at = [r.end for r in records if not r.ok]
    p50 = percentile(latencies, 0.50)
    p99 = percentile(latencies, 0.99)
    return {
        "duration_s": round(duration, 3),
        "total": len(records),
        "failed": sum(failures.values()),
        "failures_by_status": dict(sorted(failures.items())),
        "first_failure_s": round(min(failed_at), 3) if failed_at else None,
        "last_failure_s": round(max(failed_at), 3) if failed_at else None,
        "longest_gap_s": round(longest_gap([r.end for r in records if r.ok], 0.0, duration), 3),
        "latency_ms": {
            "p50": round(p50, 2) if p50 is not None else None,
            "p99": round(p99, 2) if p99 is not None else None,
        },
        "requests_per_s": round(len(records) / duration, 1) if duration > 0 else 0.0,
        "by_backend": dict(sorted(backends.items())),
    }


class KeystoneClient:
    """Just enough of the Identity API: issue a password token, validate a token."""

    def __init__(self, url, user, password, project, domain, timeout, validate_url=None):
        self._parsed = self._split(url, "--url")
        self._validate_at = self._split(validate_url, "--validate-url") if validate_url else self._parsed
        self._timeout = timeout
        self._body = json.dumps({
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {"user": {"name": user, "domain": {"id": domain}, "password": password}},
                },
                "scope": {"project": {"name": project, "domain": {"id": domain}}},
            }
        })

    @staticmethod
    def _split(url, option):
        parsed = urllib.parse.urlsplit(url.rstrip("/"))
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"{option}: expected http(s)://host:port/v3, got {url!r}")
        return parsed

    def _request(self, method, body=None, headers=None, at=None):
        """One request on a fresh connection: (status, response headers)."""
        at = at or self._parsed
        cls = http.client.HTTPSConnection if at.scheme == "https" else http.client.HTTPConnection
        conn = cls(at.hostname, at.port, timeout=self._timeout)
        try:
            conn.request(method, at.path + "/auth/tokens", body=body, headers=headers or {})
            resp = conn.getresponse()
            resp.read()
            return resp.status, resp.headers
        finally:
            conn.close()

    def issue(self):
        return self._request("POST", self._body, {"Content-Type": "application/json"})

    def validate(self, token):
        return self._request("GET", headers={"X-Auth-Token": token, "X-Subject-Token": token}, at=self._validate_at)


class Probe:
    def __init__(self, client, concurrency):
        self.client = client
        self.concurrency = concurrency
        self.records = []
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._t0 = 0.0
        self.epoch = 0.0

    def _call(self, kind, func, *args):
        start = time.monotonic() - self._t0
        status, headers, error = 0, None, ""
        try:
            status, headers = func(*args)
        except socket.timeout:
            error = "timeout"
        except (OSError, http.client.HTTPException) as exc:
            error = type(exc).__name__
        rec = Record(start, time.monotonic() - self._t0, kind, status,
                     headers.get("X-Served-By", "") if headers else "", error)
        with self._lock:
            self.records.append(rec)
        return rec, headers

    def _worker(self):
        while not self.stop.is_set():
            rec, headers = self._call(ISSUE, self.client.issue)
            token = headers.get("X-Subject-Token") if rec.ok and headers else None
            if token and not self.stop.is_set():
                self._call(VALIDATE, self.client.validate, token)
            elif not rec.ok:
                # Do not spin on a dead endpoint; a real client backs off a little too.
                self.stop.wait(0.05)

    def run(self, duration):
        self.epoch = time.time()
        self._t0 = time.monotonic()
        workers = [threading.Thread(target=self._worker, daemon=True) for dummy in range(self.concurrency)]
        for w in workers:
            w.start()
        self.stop.wait(duration if duration > 0 else None)
        self.stop.set()
        for w in workers:
            w.join()
        return time.monotonic() - self._t0


def stop_on_signals(event):
    """SIGTERM and SIGINT end the run: they set `event`, which the workers watch."""
    def stop(signum, frame):  # pylint: disable=unused-argument
        event.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)


def emit(summary, output=None):
    """Print the summary as JSON, and also write it to `output` when given."""
    text = json.dumps(summary, indent=2)
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    print(text)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    p.add_argument("--url", default="http://127.10.0.10:5000/v3", help="Identity v3 URL behind the load balancer")
    p.add_argument("--validate-url", help="validate the tokens at this Identity v3 URL instead (another site)")
    p.add_argument("--user", default="admin")
    p.add_argument("--password", default="escalator-lab-admin")
    p.add_argument("--project", default="admin")
    p.add_argument("--domain", default="default")
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--duration", type=float, default=30.0, help="seconds; 0 runs until SIGTERM or SIGINT")
    p.add_argument("--timeout", type=float, default=5.0, help="per-request timeout in seconds")
    p.add_argument("--records", help="also write every request as JSON lines to this file")
    p.add_argument("--output", help="also write the summary to this file")
    args = p.parse_args(argv)
    for name in ("concurrency", "timeout"):
        if getattr(args, name) <= 0:
            p.error(f"--{name} must be greater than 0")
    if args.duration < 0:
        p.error("--duration must be 0 (until stopped) or more")
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        client = KeystoneClient(args.url, args.user, args.password, args.project, args.domain, args.timeout,
                                args.validate_url)
    except ValueError as exc:
        print(f"probe: {exc}", file=sys.stderr)
        return 2
    probe = Probe(client, args.concurrency)

    stop_on_signals(probe.stop)
    duration = probe.run(args.duration)
    summary = summarize(probe.records, duration)
    if args.records:
        with open(args.records, "w", encoding="utf-8") as fh:
            for rec in probe.records:
                # "at" (epoch seconds) and "ok": what opnfv.escalator.html_report reads.
                fh.write(json.dumps(dict(dataclasses.asdict(rec), at=round(probe.epoch + rec.start, 3), ok=rec.ok))
                         + "\n")
    emit(summary, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
