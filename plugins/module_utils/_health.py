# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Read-only health checks. Private to the opnfv.escalator collection.

Each check type is a function ``(spec, run) -> (ok, detail)``; ``run(argv)`` runs a
command and returns (rc, stdout, stderr), so tests replace it. ``run_checks`` adds
retries, delays and timeouts, and never changes anything on the host.
"""

from __future__ import annotations

import math
import os
import re
import socket
import time
import urllib.error

from ansible.module_utils.urls import open_url
from ansible_collections.opnfv.escalator.plugins.module_utils._files import sha256_of
from ansible_collections.opnfv.escalator.plugins.module_utils._maintenance import (
    HAProxyRuntime,
    MaintenanceError,
    haproxy_servers,
    haproxy_serving,
)

CHECK_TYPES = ("http", "tcp", "service", "process", "command", "disk", "file", "version", "haproxy")

# Options of each type: name -> (required, default). Shared by validation and docs.
OPTIONS = {
    "http": {"url": (True, None), "method": (False, "GET"), "headers": (False, {}), "body": (False, None),
             "status": (False, [200]), "body_regex": (False, None), "max_latency": (False, None),
             "validate_certs": (False, True), "ca_path": (False, None)},
    "tcp": {"host": (True, None), "port": (True, None)},
    "service": {"unit": (True, None), "active": (False, True), "enabled": (False, None)},
    "process": {"pattern": (True, None), "min_count": (False, 1)},
    "command": {"command": (True, None), "rc": (False, 0), "stdout_regex": (False, None)},
    "disk": {"path": (True, None), "min_free_bytes": (False, None), "min_free_percent": (False, None)},
    "file": {"path": (True, None), "exists": (False, True), "sha256": (False, None)},
    "version": {"expected": (True, None), "python_package": (False, None), "venv": (False, None),
                "deb_package": (False, None), "command": (False, None), "regex": (False, None)},
    "haproxy": {"backend": (True, None), "servers": (True, None), "socket": (False, "/run/haproxy/admin.sock")},
}
COMMON = {"name": (True, None), "type": (True, None), "retries": (False, None), "delay": (False, None),
          "timeout": (False, None)}


# Upper bounds of the numbers a check takes: beyond them (or .inf, .nan) is a typo, and an
# endless check would hang the run. name -> (lowest, highest, whole numbers only).
NUMBERS = {
    "retries": (0, 10000, True), "delay": (0, 3600, False), "timeout": (0, 3600, False),
    "port": (1, 65535, True), "max_latency": (0, 3600, False), "min_count": (0, 1 << 20, True),
    "min_free_bytes": (0, 1 << 60, True), "min_free_percent": (0, 100, False), "rc": (0, 255, True),
}


class CheckError(ValueError):
    """A check that is wrongly written (not a failing check)."""


def _number(value, where, key):
    """value as a number within NUMBERS[key], or CheckError naming the field."""
    low, high, whole = NUMBERS[key]
    what = "a whole number" if whole else "a number"
    if isinstance(value, str) and whole and value.strip().isdigit() and len(value.strip()) < 20:
        value = int(value.strip())  # a port templated from a variable arrives as text
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (whole and not isinstance(value, int)):
        try:
            shown = f"{value:.6g}" if isinstance(value, float) else repr(value)[:80]
        except ValueError:  # holds an integer too large to print
            shown = f"a {type(value).__name__} holding a huge number"
        raise CheckError(f"{where}.{key}: must be {what} from {low} to {high}, got {shown}")
    if (isinstance(value, float) and math.isnan(value)) or not low <= value <= high:
        shown = (f"{value:.6g}" if isinstance(value, float) or abs(value) < 10 ** 15
                 else f"a {int(value.bit_length() * 0.30103) + 1}-digit number")
        raise CheckError(f"{where}.{key}: must be {what} from {low} to {high}, got {shown}")
    return value


def normalize(checks, defaults):
    """Fill defaults and refuse unknown types or options, naming the check and field."""
    if not isinstance(checks, list):
        raise CheckError("checks: must be a list")
    out, names = [], set()
    for i, raw in enumerate(checks):
        where = f"checks[{i}]"
        if not isinstance(raw, dict):
            raise CheckError(f"{where}: must be a mapping")
        kind = raw.get("type")
        if kind not in CHECK_TYPES:
            raise CheckError(f"{where}.type: must be one of {', '.join(CHECK_TYPES)}, got {kind!r}")
        known = dict(COMMON, **OPTIONS[kind])
        for key in raw:
            if key not in known:
                raise CheckError(f"{where}.{key}: not an option of a {kind} check "
                                 f"(options: {', '.join(sorted(OPTIONS[kind]))})")
        spec = {}
        for key, (required, default) in known.items():
            if key in raw and raw[key] is not None:
                spec[key] = raw[key]
            elif required:
                raise CheckError(f"{where}.{key}: is required for a {kind} check")
            else:
                spec[key] = default
        if not isinstance(spec["name"], str) or not spec["name"].strip():
            raise CheckError(f"{where}.name: must be a non-empty string")
        if spec["name"] in names:
            raise CheckError(f"{where}.name: '{spec['name']}' is used by another check")
        names.add(spec["name"])
        for key in ("retries", "delay", "timeout"):
            if spec[key] is None:
                spec[key] = defaults[key]
        for key in NUMBERS:
            if key in spec and spec[key] is not None:
                spec[key] = _number(spec[key], where, key)
        _check_specific(kind, spec, where)
        out.append(spec)
    return out


def _check_specific(kind, spec, where):
    if kind == "http":
        if not re.match(r"^https?://", str(spec["url"])):
            raise CheckError(f"{where}.url: must start with http:// or https://, got {spec['url']!r}")
        if isinstance(spec["status"], int):
            spec["status"] = [spec["status"]]
        if not isinstance(spec["status"], list) or not all(
                isinstance(s, int) and not isinstance(s, bool) and 100 <= s <= 599 for s in spec["status"]):
            raise CheckError(f"{where}.status: must be HTTP status codes (100 to 599), got {spec['status']!r}")
    if kind == "disk" and spec["min_free_bytes"] is None and spec["min_free_percent"] is None:
        raise CheckError(f"{where}: a disk check needs min_free_bytes or min_free_percent")
    if kind == "version":
        sources = [k for k in ("python_package", "deb_package", "command") if spec[k]]
        if len(sources) != 1:
            raise CheckError(f"{where}: a version check needs exactly one of python_package, deb_package, command")
        if spec["python_package"] and not spec["venv"]:
            raise CheckError(f"{where}.venv: is required with python_package")
    if kind == "haproxy" and (not isinstance(spec["servers"], list)
                              or not all(isinstance(x, str) and x for x in spec["servers"])):
        raise CheckError(f"{where}.servers: must be a list of server names")
    for key in ("body_regex", "stdout_regex", "regex"):
        if spec.get(key):
            try:
                re.compile(spec[key])
            except re.error as exc:
                raise CheckError(f"{where}.{key}: not a valid regular expression: {exc}") from exc


def _http(spec, run, timeout):
    data = spec["body"]
    if isinstance(data, str):
        data = data.encode()
    start = time.monotonic()
    try:
        with open_url(spec["url"], data=data, method=spec["method"], headers=spec["headers"] or {},
                      timeout=timeout, validate_certs=spec["validate_certs"], ca_path=spec["ca_path"],
                      follow_redirects="none") as resp:
            status, body = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read() or b""
    except (urllib.error.URLError, OSError) as exc:
        return False, f"no answer from {spec['url']}: {getattr(exc, 'reason', exc)}"
    latency = time.monotonic() - start
    if status not in spec["status"]:
        return False, f"status {status}, expected {spec['status']}"
    if spec["body_regex"] and not re.search(spec["body_regex"], body.decode(errors="replace")):
        return False, f"status {status} but the body does not match {spec['body_regex']!r}"
    if spec["max_latency"] is not None and latency > spec["max_latency"]:
        return False, f"status {status} in {latency:.3f}s, slower than {spec['max_latency']}s"
    return True, f"status {status} in {latency:.3f}s"


def _tcp(spec, run, timeout):
    try:
        with socket.create_connection((spec["host"], int(spec["port"])), timeout=timeout):
            return True, f"{spec['host']}:{spec['port']} accepts connections"
    except OSError as exc:
        return False, f"{spec['host']}:{spec['port']}: {exc}"


def _service(spec, run, timeout):
    problems, seen = [], []
    if spec["active"] is not None:
        rc, out, dummy = run(["systemctl", "is-active", spec["unit"]])
        state = out.strip() or "unknown"
        seen.append(state)
        if (rc == 0) != bool(spec["active"]):
            problems.append(f"{spec['unit']} is {state}, expected {'active' if spec['active'] else 'inactive'}")
    if spec["enabled"] is not None:
        rc, out, dummy = run(["systemctl", "is-enabled", spec["unit"]])
        state = out.strip() or "unknown"
        seen.append(state)
        if (rc == 0) != bool(spec["enabled"]):
            problems.append(f"{spec['unit']} is {state}, expected {'enabled' if spec['enabled'] else 'disabled'}")
    if problems:
        return False, "; ".join(problems)
    return True, f"{spec['unit']} is {', '.join(seen)}"


def _process(spec, run, timeout, proc_root="/proc"):
    regex = re.compile(spec["pattern"])
    count = 0
    for pid in os.listdir(proc_root):
        if not pid.isdigit():
            continue
        try:
            with open(os.path.join(proc_root, pid, "cmdline"), "rb") as fh:
                cmdline = fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue  # the process ended while we looked
        if cmdline and regex.search(cmdline):
            count += 1
    ok = count >= int(spec["min_count"])
    return ok, f"{count} process(es) match {spec['pattern']!r}, {'at least' if ok else 'expected at least'} {spec['min_count']}"


def _command(spec, run, timeout):
    argv = spec["command"] if isinstance(spec["command"], list) else ["/bin/sh", "-c", spec["command"]]
    rc, out, err = run(argv)
    if rc != int(spec["rc"]):
        tail = (err or out).strip().splitlines()[-1:] or [""]
        return False, f"exit code {rc}, expected {spec['rc']}: {tail[0]}"
    if spec["stdout_regex"] and not re.search(spec["stdout_regex"], out):
        return False, f"exit code {rc} but stdout does not match {spec['stdout_regex']!r}"
    return True, f"exit code {rc}"


def _disk(spec, run, timeout):
    try:
        st = os.statvfs(spec["path"])
    except OSError as exc:
        return False, f"{spec['path']}: {exc.strerror}"
    free = st.f_bavail * st.f_frsize
    total = st.f_blocks * st.f_frsize
    pct = 100.0 * free / total if total else 0.0
    problems = []
    if spec["min_free_bytes"] is not None and free < int(spec["min_free_bytes"]):
        problems.append(f"{free} bytes free, need {spec['min_free_bytes']}")
    if spec["min_free_percent"] is not None and pct < float(spec["min_free_percent"]):
        problems.append(f"{pct:.1f}% free, need {spec['min_free_percent']}%")
    if problems:
        return False, f"{spec['path']}: " + "; ".join(problems)
    return True, f"{spec['path']}: {free} bytes ({pct:.1f}%) free"


def _file(spec, run, timeout):
    exists = os.path.exists(spec["path"])
    if exists != bool(spec["exists"]):
        return False, f"{spec['path']} {'exists' if exists else 'does not exist'}"
    if exists and spec["sha256"]:
        actual = sha256_of(spec["path"])
        if actual != spec["sha256"].lower():
            return False, f"{spec['path']} has sha256 {actual}, expected {spec['sha256']}"
    return True, f"{spec['path']} {'exists' if exists else 'is absent'}" + (" with the expected sha256" if spec["sha256"] else "")


def installed_version(spec, run):
    """The version a version check looks at, or (None, reason)."""
    if spec["python_package"]:
        python = os.path.join(spec["venv"], "bin", "python")
        rc, out, err = run([python, "-c", "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))",
                            spec["python_package"]])
        what = f"{spec['python_package']} in {spec['venv']}"
    elif spec["deb_package"]:
        rc, out, err = run(["dpkg-query", "-W", "-f=${Version}", spec["deb_package"]])
        what = f"Debian package {spec['deb_package']}"
    else:
        argv = spec["command"] if isinstance(spec["command"], list) else ["/bin/sh", "-c", spec["command"]]
        rc, out, err = run(argv)
        what = "the command's output"
        if rc == 0 and spec["regex"]:
            m = re.search(spec["regex"], out)
            if not m:
                return None, f"{what} does not match {spec['regex']!r}"
            out = m.group(1) if m.groups() else m.group(0)
    if rc != 0:
        return None, f"cannot read the version of {what}: {(err or out).strip()[:200]}"
    return out.strip(), what


def _version(spec, run, timeout):
    version, what = installed_version(spec, run)
    if version is None:
        return False, what, {"version": None}
    ok = version == str(spec["expected"])
    return ok, f"{what} is {version}" + ("" if ok else f", expected {spec['expected']}"), {"version": version}


def _haproxy(spec, run, timeout, api=None):
    api = api or HAProxyRuntime(spec["socket"], timeout or 5.0)
    backends = spec["backend"] if isinstance(spec["backend"], list) else [spec["backend"]]
    problems = []
    for backend in backends:
        try:
            servers = haproxy_servers(api, backend)
        except MaintenanceError as exc:
            return False, str(exc)
        for name in spec["servers"]:
            server = servers.get(name)
            if server is None:
                problems.append(f"{name} (not a server of {backend})")
            elif not haproxy_serving(server):
                problems.append(f"{name} in {backend} (operational state {server['op']}, admin state {server['admin']})")
    where = f"HAProxy backend{'s' if len(backends) > 1 else ''} {', '.join(backends)}"
    if problems:
        return False, f"not serving in {where}: {', '.join(problems)}"
    return True, f"{len(spec['servers'])} server(s) serving in {where}"


RUNNERS = {"http": _http, "tcp": _tcp, "service": _service, "process": _process, "command": _command,
           "disk": _disk, "file": _file, "version": _version, "haproxy": _haproxy}


def _attempt(spec, run):
    """One try of one check: (ok, detail, extra fields)."""
    try:
        # (ok, detail), or (ok, detail, extra fields for the result).
        ok, detail, *extra = RUNNERS[spec["type"]](spec, run, spec["timeout"] or None)
    except Exception as exc:  # pylint: disable=broad-exception-caught
        # A check must report, never crash the run: an unexpected error is a failure.
        ok, detail = False, f"{type(exc).__name__}: {exc}"
        extra = [{"version": None}] if spec["type"] == "version" else []
    return ok, detail, extra


def _until_ok(spec, run, sleep, clock, retries):
    """A check tried until it passes or its retries are spent: its result."""
    start = clock()
    attempts = 0
    first_failure = None
    while True:
        attempts += 1
        ok, detail, extra = _attempt(spec, run)
        if ok or attempts > retries:
            break
        first_failure = first_failure or detail
        sleep(spec["delay"])
    result = dict(*extra, name=spec["name"], type=spec["type"], ok=ok, detail=detail,
                  attempts=attempts, elapsed=round(clock() - start, 3))
    if ok and first_failure:
        # Passed only after failing: what it saw first (a database that was not answering),
        # for the report.
        result["failed_first"] = first_failure
    return result


def run_checks(checks, run, sleep=time.sleep, clock=time.monotonic, stable=0.0):
    """Run normalized checks; every check gets its retries. Returns a result per check.

    With ``stable`` (seconds), once every check has passed they are all run again, each
    ``delay`` apart, until they have kept passing that long: a check that fails in that
    window (a node that passes once and then fails: it flaps) is tried again within what is
    left of its retries, and the window starts again once it passes. A check whose retries
    run out this way fails, saying it flapped."""
    results = []
    for spec in checks:
        results.append(_until_ok(spec, run, sleep, clock, spec["retries"]))
    if not stable or not checks or not all(r["ok"] for r in results):
        return results
    left = [max(spec["retries"] - result["attempts"] + 1, 0) for spec, result in zip(checks, results)]
    flaps = [0] * len(checks)
    delay = min(spec["delay"] for spec in checks)
    since = clock()
    while clock() - since < stable:
        sleep(delay)
        for index, (spec, result) in enumerate(zip(checks, results)):
            ok, detail, dummy = _attempt(spec, run)
            result["attempts"] += 1
            if ok:
                continue
            flaps[index] += 1
            left[index] -= 1  # the failed try is one of its retries
            failure = detail
            if left[index] > 0:
                sleep(spec["delay"])
                again = _until_ok(spec, run, sleep, clock, left[index] - 1)
                result["attempts"] += again["attempts"]
                left[index] -= again["attempts"]
                ok, detail = again["ok"], again["detail"]
            if ok:
                result.setdefault("failed_first", failure)
            else:
                result.update(ok=False, detail=f"passed, then failed within {stable:g} s of passing and kept failing "
                                               f"(it flaps: {flaps[index]} failure(s) after passing): {detail}")
                return results
            since = clock()
    for result in results:
        result["stable_s"] = stable
    return results
