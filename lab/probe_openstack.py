"""Traffic probe for the OpenStack lab: how its users and its instances see an upgrade.

Through the VIP, workers call every API over and over at a fixed concurrency: Keystone
(issue a token), Glance (image list), Nova (server list and show), Placement (resource
providers) and Neutron (network list). One more worker boots a server and deletes it
again at a low rate, and a watcher lists every instance each second and follows its
status and host. The run ends after --duration seconds or on SIGTERM/SIGINT and prints
JSON: per API the requests, failures and longest window with no success; for the
instances the total, the lost ones, the longest time any was not ACTIVE, the live
migrations seen and any anti-affinity violation.

An instance is lost when it leaves ACTIVE other than for its own live migration
(status MIGRATING), ends on no host, or disappears. Standard library only, like
lab/probe.py, whose figures (longest gap, percentiles), signal handling and output it
shares.
"""

import argparse
import datetime
import http.client
import itertools
import json
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from probe import emit, longest_gap, percentile, stop_on_signals  # noqa: E402  pylint: disable=wrong-import-position

PORTS = {"keystone": 5000, "glance": 9292, "nova": 8774, "placement": 8778, "neutron": 9696}
COMPUTE_VERSION = "2.37"  # the lowest that boots with networks "none"
PROBE_PREFIX = "probe-"


def api_summary(records, duration):
    """Figures for one API's records, each (start, end, ok, failure key)."""
    failures = {}
    for record in records:
        if not record[2]:
            failures[record[3]] = failures.get(record[3], 0) + 1
    latencies = [(end - start) * 1000.0 for start, end, ok, dummy in records if ok]
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    return {
        "total": len(records),
        "failed": sum(failures.values()),
        "failures_by_status": dict(sorted(failures.items())),
        "longest_gap_s": round(longest_gap([r[1] for r in records if r[2]], 0.0, duration), 3),
        "latency_ms": {"p50": round(p50, 2) if p50 is not None else None,
                       "p99": round(p99, 2) if p99 is not None else None},
    }


class Tracker:
    """Follows every instance sample by sample; pure, so unit tests can feed it samples."""

    def __init__(self, groups=None):
        self.groups = groups or {}  # instance id -> server group name (anti-affinity)
        self.seen = {}  # id -> name
        self.lost = {}  # id -> reason
        self.not_active_since = {}  # id -> time it left ACTIVE
        self.max_not_active = 0.0
        self.migrating_since = {}  # id -> (time, host)
        self.migrations = []
        self.violations = []
        self.hosts = {}  # id -> last host

    def sample(self, now, servers):
        """servers: [{id, name, status, host}] as listed at time `now` (seconds)."""
        current = {s["id"]: s for s in servers if not s["name"].startswith(PROBE_PREFIX)}
        for sid, name in self.seen.items():
            if sid not in current and sid not in self.lost:
                self.lost[sid] = f"{name} disappeared"
        for sid, server in current.items():
            self.seen.setdefault(sid, server["name"])
            status, host = server["status"], server["host"]
            if status != "ACTIVE":
                self.not_active_since.setdefault(sid, now)
            elif sid in self.not_active_since:
                self.max_not_active = max(self.max_not_active, now - self.not_active_since.pop(sid))
            if status == "MIGRATING":
                self.migrating_since.setdefault(sid, (now, self.hosts.get(sid, host)))
            elif sid in self.migrating_since:
                started, source = self.migrating_since.pop(sid)
                self.migrations.append({"name": server["name"], "from": source, "to": host,
                                        "duration_s": round(now - started, 3)})
            if status not in ("ACTIVE", "MIGRATING") and sid not in self.lost:
                self.lost[sid] = f"{server['name']} was {status}"
            if not host and sid not in self.lost:
                self.lost[sid] = f"{server['name']} was on no host"
            self.hosts[sid] = host
        by_group = {}
        for sid, server in current.items():
            if sid in self.groups and server["host"]:
                by_group.setdefault((self.groups[sid], server["host"]), []).append(server["name"])
        for (group, host), names in sorted(by_group.items()):
            if len(names) > 1:
                self.violations.append({"at_s": round(now, 3), "group": group, "host": host,
                                        "instances": sorted(names)})

    def summary(self, now):
        longest = max([self.max_not_active] + [now - t for t in self.not_active_since.values()])
        return {
            "total": len(self.seen),
            "lost": len(self.lost),
            "lost_detail": sorted(self.lost.values()),
            "max_not_active_s": round(longest, 3),
            "live_migrations": len(self.migrations),
            "migrations": self.migrations,
            "anti_affinity_violations": len(self.violations),
            "violations": self.violations[:20],
        }


class Cloud:
    """Just enough of each API, on a fresh connection per request, through the VIP."""

    def __init__(self, vip, user, password, project, timeout):
        self.vip, self.timeout = vip, timeout
        self._auth = {"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": user, "domain": {"id": "default"}, "password": password}}},
            "scope": {"project": {"name": project, "domain": {"id": "default"}}}}}
        self.token = None

    def request(self, api, method, path, body=None, headers=None):
        """(status, headers, parsed JSON body or None); raises OSError for no answer."""
        conn = http.client.HTTPConnection(self.vip, PORTS[api], timeout=self.timeout)
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        if self.token and api != "keystone":
            hdrs["X-Auth-Token"] = self.token
        if api == "nova":
            hdrs["OpenStack-API-Version"] = f"compute {COMPUTE_VERSION}"
        try:
            conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read()
            try:
                data = json.loads(raw) if raw else None
            except ValueError:
                data = None
            return resp.status, resp.headers, data
        finally:
            conn.close()

    def get(self, api, path):
        """(status, parsed JSON body or None) of a GET."""
        status, dummy, data = self.request(api, "GET", path)
        return status, data

    def issue_token(self):
        status, headers, data = self.request("keystone", "POST", "/v3/auth/tokens", self._auth)
        if status == 201:
            self.token = headers.get("X-Subject-Token")
        return status, headers, data

    def servers(self):
        status, data = self.get("nova", "/v2.1/servers/detail?all_tenants=1")
        if status != 200:
            raise OSError(f"server list answered {status}")
        return [{"id": s["id"], "name": s["name"], "status": s["status"],
                 "host": s.get("OS-EXT-SRV-ATTR:host")} for s in data["servers"]]


MAX_FAILED_KEPT = 50


def failed_request(kind, method, path, status, error, headers, data):
    """What a failed request showed, to set beside the run's audit log: when it ended (UTC),
    what it asked, and who answered. No X-Served-By means HAProxy answered itself (no server
    was up); with it, the service on that controller answered with an error."""
    message = ""
    if isinstance(data, dict):
        # Nova, Neutron and keystonemiddleware put the reason one level down.
        inner = next(iter(data.values()), None) if len(data) == 1 else data
        message = str(inner.get("message", "") if isinstance(inner, dict) else inner)[:200]
    return {"at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds"),
            "kind": kind, "request": f"{method} {path}", "status": status, "error": error,
            "backend": headers.get("X-Served-By", "") if headers else "", "message": message}


class OpenStackProbe:
    def __init__(self, cloud, concurrency, create_interval, group_names):
        self.cloud, self.concurrency, self.create_interval = cloud, concurrency, create_interval
        # kind -> [(start, end, ok, failure key)]
        self.records = {api: [] for api in ("keystone", "glance", "nova", "placement", "neutron",
                                            "nova_create", "watch")}
        self.flavor = self.image = None
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._t0 = 0.0
        self.server_ids = []
        self.group_names = group_names
        self.tracker = None
        self.cycles = {"done": 0, "failed": 0, "errors": []}
        self.failed = []

    def now(self):
        return time.monotonic() - self._t0

    def _call(self, kind, api, method, path, expected, body=None):
        start = self.now()
        status, headers, data, error = 0, None, None, ""
        try:
            status, headers, data = (self.cloud.issue_token() if kind == "keystone"
                                     else self.cloud.request(api, method, path, body))
        except socket.timeout:
            error = "timeout"
        except (OSError, http.client.HTTPException) as exc:
            error = type(exc).__name__
        with self._lock:
            self.records[kind].append((start, self.now(), status in expected, error or str(status)))
            if status not in expected and len(self.failed) < MAX_FAILED_KEPT:
                self.failed.append(failed_request(kind, method, path, status, error, headers, data))
        return status in expected, data

    def _operations(self):
        return itertools.cycle([
            ("keystone", "keystone", "POST", "/v3/auth/tokens", (201,)),
            ("glance", "glance", "GET", "/v2/images", (200,)),
            ("nova", "nova", "GET", "/v2.1/servers/detail?all_tenants=1", (200,)),
            ("placement", "placement", "GET", "/resource_providers", (200,)),
            ("neutron", "neutron", "GET", "/v2.0/networks", (200,)),
            ("nova", "nova", "GET", "/v2.1/servers/{server}", (200,)),
        ])

    def _worker(self, offset):
        ops = self._operations()
        for dummy in range(offset):
            next(ops)
        for kind, api, method, path, expected in ops:
            if self.stop.is_set():
                return
            server = self.server_ids[int(self.now()) % len(self.server_ids)] if self.server_ids else ""
            ok = self._call(kind, api, method, path.format(server=server), expected)[0]
            if not ok:
                self.stop.wait(0.05)

    def _create_delete(self):
        n = 0
        while not self.stop.wait(self.create_interval):
            n += 1
            name = f"{PROBE_PREFIX}{os.getpid()}-{n}"
            ok, data = self._call("nova_create", "nova", "POST", "/v2.1/servers", (202,), {"server": {
                "name": name, "flavorRef": self.flavor, "imageRef": self.image, "networks": "none"}})
            if not ok or not data:
                self.cycles["failed"] += 1
                continue
            sid = data["server"]["id"]
            status, server = self._wait_status(sid, {"ACTIVE", "ERROR"}, 120)
            deleted = self._delete(sid)
            if status == "ACTIVE" and deleted:
                self.cycles["done"] += 1
            else:
                # When and where, and Nova's own reason: enough to find the step that broke it.
                self.cycles["failed"] += 1
                fault = (server.get("fault") or {}).get("message", "")
                self.cycles["errors"].append(
                    f"{name}: status {status}, deleted {deleted}, seen {datetime.datetime.now(datetime.timezone.utc):%H:%M:%S} UTC on "
                    f"{server.get('OS-EXT-SRV-ATTR:host') or 'no host'}" + (f": {fault[:300]}" if fault else ""))

    def _wait_status(self, sid, wanted, timeout):
        """The server's status once it is one of wanted (or the last seen at timeout), and
        the server as Nova last showed it."""
        deadline = time.monotonic() + timeout
        status, server = None, {}
        while time.monotonic() < deadline:
            try:
                code, data = self.cloud.get("nova", f"/v2.1/servers/{sid}")
                if code == 200 and data:
                    server = data["server"]
                    status = server["status"]
            except (OSError, http.client.HTTPException):
                pass
            if status in wanted:
                return status, server
            time.sleep(1)
        return status, server

    def _delete(self, sid):
        for dummy in range(30):
            try:
                code = self.cloud.request("nova", "DELETE", f"/v2.1/servers/{sid}")[0]
                if code in (204, 404):
                    return True
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(2)
        return False

    def _watch(self):
        while not self.stop.is_set():
            start = self.now()
            try:
                servers = self.cloud.servers()
                ok = True
            except (OSError, http.client.HTTPException, KeyError, TypeError):
                servers, ok = None, False
            with self._lock:
                self.records["watch"].append((start, self.now(), ok, "server list"))
            if servers is not None:
                self.tracker.sample(self.now(), servers)
            self.stop.wait(max(0.0, 1.0 - (self.now() - start)))

    def prepare(self):
        status = self.cloud.issue_token()[0]
        if status != 201:
            raise OSError(f"Keystone answered {status} to the probe's credentials")
        data = self.cloud.get("nova", "/v2.1/os-server-groups?all_projects=True")[1]
        groups = {member: g["name"] for g in (data or {}).get("server_groups", [])
                  if g["name"] in self.group_names for member in g["members"]}
        self.tracker = Tracker(groups)
        servers = self.cloud.servers()
        self.server_ids = [s["id"] for s in servers if not s["name"].startswith(PROBE_PREFIX)]
        flavors = self.cloud.get("nova", "/v2.1/flavors")[1]
        images = self.cloud.get("glance", "/v2/images")[1]
        self.flavor = min(flavors["flavors"], key=lambda f: f["name"])["id"]
        self.image = images["images"][0]["id"]

    def run(self, duration):
        self._t0 = time.monotonic()
        threads = [threading.Thread(target=self._worker, args=(i,), daemon=True) for i in range(self.concurrency)]
        threads.append(threading.Thread(target=self._watch, daemon=True))
        if self.create_interval > 0:
            threads.append(threading.Thread(target=self._create_delete, daemon=True))
        for t in threads:
            t.start()
        self.stop.wait(duration if duration > 0 else None)
        self.stop.set()
        for t in threads:
            t.join()
        return self.now()

    def summary(self, duration):
        return {"duration_s": round(duration, 3),
                "apis": {kind: api_summary(records, duration) for kind, records in self.records.items()},
                "instances": self.tracker.summary(duration), "create_delete": self.cycles,
                "failed_requests": self.failed}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    p.add_argument("--vip", default="127.11.0.10", help="the APIs' address (HAProxy's frontends)")
    p.add_argument("--user", default="admin")
    p.add_argument("--password", default=os.environ.get("OS_PASSWORD", "escalator-lab-admin"),
                   help="default: $OS_PASSWORD, else the lab's")
    p.add_argument("--project", default="admin")
    p.add_argument("--group", action="append", default=None,
                   help="an anti-affinity server group to watch (repeatable; default: vnf-a)")
    p.add_argument("--concurrency", type=int, default=3)
    p.add_argument("--create-interval", type=float, default=20.0,
                   help="seconds between server create/delete cycles; 0 turns them off")
    p.add_argument("--duration", type=float, default=30.0, help="seconds; 0 runs until SIGTERM or SIGINT")
    p.add_argument("--timeout", type=float, default=10.0, help="per-request timeout in seconds")
    p.add_argument("--output", help="also write the summary to this file")
    args = p.parse_args(argv)
    for name in ("concurrency", "timeout"):
        if getattr(args, name) <= 0:
            p.error(f"--{name} must be greater than 0")
    for name in ("duration", "create_interval"):
        if getattr(args, name) < 0:
            p.error(f"--{name.replace('_', '-')} must be 0 or more")
    return args


def main(argv=None):
    args = parse_args(argv)
    probe = OpenStackProbe(Cloud(args.vip, args.user, args.password, args.project, args.timeout),
                           args.concurrency, args.create_interval, set(args.group or ["vnf-a"]))
    try:
        probe.prepare()
    except (OSError, http.client.HTTPException, KeyError, TypeError, ValueError, IndexError) as exc:
        print(f"probe: the cloud is not ready to be probed: {exc}", file=sys.stderr)
        return 2

    stop_on_signals(probe.stop)
    emit(probe.summary(probe.run(args.duration)), args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
