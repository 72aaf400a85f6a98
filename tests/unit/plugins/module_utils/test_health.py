"""Health checks: real local servers and files where cheap, a fake runner for commands."""

import hashlib
import re
import http.server
import socket
import threading

import pytest

from ansible_collections.opnfv.escalator.plugins.module_utils._health import CheckError, normalize, run_checks

DEFAULTS = {"retries": 0, "delay": 0, "timeout": 2}


def checks(*specs, **defaults):
    return normalize(list(specs), dict(DEFAULTS, **defaults))


@pytest.fixture(scope="module")
def web():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            code = 503 if self.path == "/down" else 200
            self.send_response(code)
            self.end_headers()
            self.wfile.write(b'{"version": {"id": "v3.14"}}')

        def do_POST(self):
            self.send_response(201)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def no_run(argv):
    raise AssertionError(f"no command expected, got {argv}")


def test_http_checks(web):
    results = run_checks(checks(
        {"name": "ok", "type": "http", "url": web + "/v3", "body_regex": r"v3\.\d+"},
        {"name": "post", "type": "http", "url": web + "/", "method": "POST", "body": "{}", "status": 201},
        {"name": "down", "type": "http", "url": web + "/down"},
        {"name": "wrong body", "type": "http", "url": web + "/v3", "body_regex": "v2"},
        {"name": "slow", "type": "http", "url": web + "/v3", "max_latency": 0.0},
    ), no_run)
    assert [r["ok"] for r in results] == [True, True, False, False, False]
    assert results[2]["detail"] == "status 503, expected [200]"
    assert "does not match 'v2'" in results[3]["detail"]
    assert "slower than 0.0s" in results[4]["detail"]


def test_tcp_and_connection_refused():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        ok = run_checks(checks({"name": "up", "type": "tcp", "host": "127.0.0.1", "port": port}), no_run)
    down = run_checks(checks({"name": "down", "type": "tcp", "host": "127.0.0.1", "port": port}), no_run)
    assert ok[0]["ok"] and not down[0]["ok"]


def test_retries_until_success():
    answers = iter([(3, "inactive\n", ""), (3, "activating\n", ""), (0, "active\n", "")])
    sleeps = []
    res = run_checks(checks({"name": "unit", "type": "service", "unit": "keystone", "retries": 5, "delay": 2}),
                     lambda argv: next(answers), sleep=sleeps.append)
    assert res[0]["ok"] and res[0]["attempts"] == 3 and sleeps == [2, 2]
    # What it saw first is kept for the report; a check that passed at once has none.
    assert res[0]["failed_first"] == "keystone is inactive, expected active"
    assert "failed_first" not in run_checks(checks({"name": "unit", "type": "service", "unit": "keystone"}),
                                            lambda argv: (0, "active\n", ""))[0]


class Clock:
    """A clock that moves only when the checks sleep."""

    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self):
        return self.now


def unit_answers(*states):
    """A service check's command answering each state in turn, then the last one for ever."""
    states = list(states)

    def run(argv):
        state = states.pop(0) if len(states) > 1 else states[0]
        return (0 if state == "active" else 3), state + "\n", ""
    return run


def test_stable_keeps_running_the_checks_until_they_have_passed_that_long():
    clock = Clock()
    res = run_checks(checks({"name": "unit", "type": "service", "unit": "keystone", "retries": 5, "delay": 1}),
                     unit_answers("active"), sleep=clock.sleep, clock=clock, stable=3)
    assert res[0]["ok"] and res[0]["stable_s"] == 3 and res[0]["attempts"] == 4 and clock.sleeps == [1, 1, 1]


def test_a_node_that_passes_once_and_then_fails_flaps_and_fails():
    clock = Clock()
    res = run_checks(checks({"name": "unit", "type": "service", "unit": "keystone", "retries": 5, "delay": 1}),
                     unit_answers("active", "failed"), sleep=clock.sleep, clock=clock, stable=3)
    assert not res[0]["ok"]
    assert res[0]["detail"].startswith("passed, then failed within 3 s of passing and kept failing (it flaps: "
                                       "1 failure(s) after passing)")
    assert res[0]["attempts"] == 6  # its 1 + 5 retries, no more
    # Without the window the same node passes: what the window is for.
    assert run_checks(checks({"name": "unit", "type": "service", "unit": "keystone", "retries": 5, "delay": 1}),
                      unit_answers("active", "failed"), sleep=Clock().sleep)[0]["ok"]


def test_one_failure_in_the_window_is_tried_again_and_the_window_starts_again():
    clock = Clock()
    res = run_checks(checks({"name": "unit", "type": "service", "unit": "keystone", "retries": 5, "delay": 1}),
                     unit_answers("active", "active", "failed", "active"), sleep=clock.sleep, clock=clock, stable=2)
    # Passed at 0, 1; failed at 2, passed at 3 (the window starts again), 4, 5.
    assert res[0]["ok"] and res[0]["attempts"] == 6 and clock.now == 5
    assert res[0]["failed_first"] == "keystone is failed, expected active"


def test_service_enabled_and_active():
    def run(argv):
        return {"is-active": (0, "active\n", ""), "is-enabled": (1, "disabled\n", "")}[argv[1]]

    res = run_checks(checks({"name": "u", "type": "service", "unit": "x", "enabled": True}), run)
    assert not res[0]["ok"] and res[0]["detail"] == "x is disabled, expected enabled"


def test_process_check_sees_this_test():
    res = run_checks(checks({"name": "me", "type": "process", "pattern": "pytest|python"},
                            {"name": "nobody", "type": "process", "pattern": "no-such-daemon-[0-9]{9}"}), no_run)
    assert res[0]["ok"] and not res[1]["ok"]


def test_command_rc_and_stdout():
    def run(argv):
        return (0, "HEALTH_OK\n", "") if "ceph" in argv[-1] else (2, "", "boom\n")

    res = run_checks(checks({"name": "ceph", "type": "command", "command": "ceph health", "stdout_regex": "^HEALTH_OK"},
                            {"name": "bad", "type": "command", "command": ["false"]}), run)
    assert res[0]["ok"] and res[1]["detail"] == "exit code 2, expected 0: boom"


def test_disk_and_file(tmp_path):
    f = tmp_path / "f"
    f.write_bytes(b"abc")
    digest = hashlib.sha256(b"abc").hexdigest()
    res = run_checks(checks(
        {"name": "disk", "type": "disk", "path": str(tmp_path), "min_free_bytes": 1},
        {"name": "huge", "type": "disk", "path": str(tmp_path), "min_free_bytes": 1 << 59},
        {"name": "file", "type": "file", "path": str(f), "sha256": digest},
        {"name": "badsum", "type": "file", "path": str(f), "sha256": "0" * 64},
        {"name": "gone", "type": "file", "path": str(tmp_path / "x"), "exists": False},
    ), no_run)
    assert [r["ok"] for r in res] == [True, False, True, False, True]


def test_version_sources():
    def run(argv):
        if argv[0] == "dpkg-query":
            return 0, "2.6.12-1+deb12u3", ""
        if argv[0].endswith("/bin/python"):
            return 0, "28.1.0\n", ""
        return 0, "HAProxy version 2.6.12-1 2023/12/04\n", ""

    res = run_checks(checks(
        {"name": "pip", "type": "version", "python_package": "keystone", "venv": "/opt/k", "expected": "29.1.0"},
        {"name": "deb", "type": "version", "deb_package": "haproxy", "expected": "2.6.12-1+deb12u3"},
        {"name": "cmd", "type": "version", "command": "haproxy -v", "regex": r"version (\S+)", "expected": "2.6.12-1"},
    ), run)
    assert [r["ok"] for r in res] == [False, True, True]
    assert res[0]["detail"] == "keystone in /opt/k is 28.1.0, expected 29.1.0"
    # The version found is returned, so a run can record what a node ran before.
    assert [r["version"] for r in res] == ["28.1.0", "2.6.12-1+deb12u3", "2.6.12-1"]


def test_unreadable_version_is_returned_as_none():
    res = run_checks(checks({"name": "pip", "type": "version", "python_package": "keystone", "venv": "/opt/k",
                             "expected": "1"}), lambda argv: (1, "", "No such file"))
    assert res[0]["ok"] is False and res[0]["version"] is None
    assert "No such file" in res[0]["detail"]


@pytest.fixture()
def haproxy_socket(tmp_path):
    """A unix socket answering `show servers state keystone` like HAProxy's runtime API."""
    states = {"ctl1": (2, 0), "ctl2": (2, 0), "ctl3": (2, 0)}
    path = str(tmp_path / "admin.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen()

    def serve():
        while True:
            try:
                conn, dummy = server.accept()
            except OSError:
                return
            with conn:
                command = conn.recv(1024).decode().strip()
                if command == "show servers state keystone":
                    rows = [f"3 keystone {i} {n} 127.10.0.1{i} {op} {admin} 1 1 10 6 3 4 6 0 0 0 - 5000 -"
                            for i, (n, (op, admin)) in enumerate(sorted(states.items()), 1)]
                    conn.sendall(("1\n# be_id be_name srv_id srv_name ...\n" + "\n".join(rows) + "\n").encode())
                else:
                    conn.sendall(b"Can't find backend.\n")

    threading.Thread(target=serve, daemon=True).start()
    yield path, states
    server.close()


def test_haproxy_servers_serving(haproxy_socket):
    path, states = haproxy_socket
    spec = {"name": "rest", "type": "haproxy", "backend": "keystone", "servers": ["ctl1", "ctl3"], "socket": path}
    assert run_checks(checks(spec), no_run)[0]["ok"] is True
    states["ctl3"] = (2, 8)  # draining
    states["ctl1"] = (0, 1)  # maintenance
    res = run_checks(checks(spec, {"name": "other", "type": "haproxy", "backend": "keystone", "servers": ["ctl2"],
                                   "socket": path}), no_run)
    assert [r["ok"] for r in res] == [False, True]
    assert res[0]["detail"] == ("not serving in HAProxy backend keystone: ctl1 in keystone (operational state 0, "
                                "admin state 1), ctl3 in keystone (operational state 2, admin state 8)")


def test_haproxy_unknown_server_backend_and_socket(haproxy_socket, tmp_path):
    path, dummy = haproxy_socket
    res = run_checks(checks(
        {"name": "a", "type": "haproxy", "backend": "keystone", "servers": ["ctl9"], "socket": path},
        {"name": "b", "type": "haproxy", "backend": "nova", "servers": ["ctl1"], "socket": path},
        {"name": "c", "type": "haproxy", "backend": "keystone", "servers": ["ctl1"], "socket": str(tmp_path / "no")},
    ), no_run)
    assert [r["ok"] for r in res] == [False, False, False]
    assert res[0]["detail"].endswith("ctl9 (not a server of keystone)")
    assert res[1]["detail"] == "haproxy.backends: HAProxy has no backend 'nova'"
    assert "cannot reach the HAProxy runtime API" in res[2]["detail"]


def test_an_unexpected_error_is_a_failed_check_not_a_crash():
    def run(argv):
        raise RuntimeError("runner broke")

    res = run_checks(checks({"name": "c", "type": "command", "command": "x"}), run)
    assert res[0] == dict(res[0], ok=False, detail="RuntimeError: runner broke")


@pytest.mark.parametrize("spec, message", [
    ({"name": "x", "type": "ping"}, "checks[0].type: must be one of http, tcp"),
    ({"name": "x", "type": "http"}, "checks[0].url: is required for a http check"),
    ({"name": "x", "type": "http", "url": "ftp://a"}, "checks[0].url: must start with http:// or https://"),
    ({"name": "x", "type": "tcp", "host": "h", "port": 1, "url": "u"}, "checks[0].url: not an option of a tcp check"),
    ({"name": "x", "type": "disk", "path": "/"}, "needs min_free_bytes or min_free_percent"),
    ({"name": "x", "type": "version", "expected": "1"}, "needs exactly one of python_package, deb_package, command"),
    ({"name": "x", "type": "version", "expected": "1", "python_package": "k"}, "checks[0].venv: is required"),
    ({"name": "x", "type": "command", "command": "c", "stdout_regex": "("}, "not a valid regular expression"),
    ({"name": "x", "type": "tcp", "host": "h", "port": 1, "retries": -1},
     "checks[0].retries: must be a whole number from 0 to 10000, got -1"),
    # Numbers that would probe another port, never end, or are no numbers at all.
    ({"name": "x", "type": "tcp", "host": "h", "port": 70000}, "checks[0].port: must be a whole number from 1 to 65535, got 70000"),
    ({"name": "x", "type": "tcp", "host": "h", "port": "5000x"}, "checks[0].port: must be a whole number from 1 to 65535, got '5000x'"),
    ({"name": "x", "type": "tcp", "host": "h", "port": 1, "retries": float("inf")},
     "checks[0].retries: must be a whole number from 0 to 10000, got inf"),
    ({"name": "x", "type": "tcp", "host": "h", "port": 1, "delay": float("nan")},
     "checks[0].delay: must be a number from 0 to 3600, got nan"),
    ({"name": "x", "type": "tcp", "host": "h", "port": 1, "timeout": 10 ** 400},
     "checks[0].timeout: must be a number from 0 to 3600, got a 401-digit number"),
    ({"name": "x", "type": "http", "url": "http://a", "status": [200, 999]},
     "checks[0].status: must be HTTP status codes (100 to 599), got [200, 999]"),
    ({"name": "x", "type": "http", "url": "http://a", "max_latency": True}, "checks[0].max_latency: must be a number"),
    ({"type": "tcp", "host": "h", "port": 1}, "checks[0].name: is required"),
    ({"name": "x", "type": "haproxy", "backend": "b"}, "checks[0].servers: is required for a haproxy check"),
    ({"name": "x", "type": "haproxy", "backend": "b", "servers": "ctl1"}, "checks[0].servers: must be a list of server names"),
])
def test_bad_checks_are_named(spec, message):
    with pytest.raises(CheckError, match=re.escape(message)):
        checks(spec)


def test_duplicate_names():
    with pytest.raises(CheckError, match=r"checks\[1\].name: 'a' is used by another check"):
        checks({"name": "a", "type": "tcp", "host": "h", "port": 1}, {"name": "a", "type": "tcp", "host": "h", "port": 2})


def test_a_port_given_as_text_is_read_as_a_number():
    (spec,) = checks({"name": "x", "type": "tcp", "host": "h", "port": "5000"})
    assert spec["port"] == 5000
