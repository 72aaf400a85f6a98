import http.server
import json
import socket
import threading

import pytest

import probe
from probe import ISSUE, VALIDATE, Record, longest_gap, percentile, summarize


@pytest.mark.parametrize(
    "values, fraction, expected",
    [
        ([5.0], 0.5, 5.0),
        ([1.0, 2.0, 3.0, 4.0], 0.5, 2.0),
        ([1.0, 2.0, 3.0, 4.0], 0.99, 4.0),
        (list(range(1, 101)), 0.99, 99),
        (list(range(100, 0, -1)), 0.50, 50),
        ([], 0.5, None),
    ],
)
def test_percentile_nearest_rank(values, fraction, expected):
    assert percentile(values, fraction) == expected


@pytest.mark.parametrize(
    "successes, expected",
    [
        ([], 10.0),  # nothing succeeded: the whole run is one gap
        ([5.0], 5.0),
        ([1.0, 2.0, 9.0], 7.0),
        ([0.5, 9.0], 8.5),
        ([1.0, 4.0, 6.0, 7.0], 3.0),  # the tail 7 -> 10 is as long as 1 -> 4
        ([12.0, -1.0], 10.0),  # outside the window counts for nothing
    ],
)
def test_longest_gap(successes, expected):
    assert longest_gap(successes, 0.0, 10.0) == pytest.approx(expected)


def _rec(end, kind=ISSUE, status=None, backend="ctl1", error=""):
    if status is None:
        status = 201 if kind == ISSUE else 200
    return Record(start=end - 0.01, end=end, kind=kind, status=status, backend=backend, error=error)


def test_summary_counts_failures_by_status_and_error():
    records = [
        _rec(1.0),
        _rec(1.1, VALIDATE),
        _rec(2.0, status=503, backend=""),
        _rec(2.5, status=0, backend="", error="ConnectionRefusedError"),
        _rec(3.0, VALIDATE, status=401, backend="ctl2"),
        _rec(6.0, backend="ctl3"),
    ]
    s = summarize(records, 8.0)
    assert s["total"] == 6
    assert s["failed"] == 3
    assert s["failures_by_status"] == {"401": 1, "503": 1, "ConnectionRefusedError": 1}
    assert s["first_failure_s"] == 2.0 and s["last_failure_s"] == 3.0
    assert s["longest_gap_s"] == pytest.approx(4.9)  # 1.1 -> 6.0
    assert s["by_backend"] == {"ctl1": 2, "ctl2": 1, "ctl3": 1}
    assert s["requests_per_s"] == pytest.approx(0.8)


def test_summary_of_a_clean_run():
    s = summarize([_rec(t / 10) for t in range(1, 11)], 1.0)
    assert s["failed"] == 0 and s["failures_by_status"] == {}
    assert s["first_failure_s"] is None
    assert s["latency_ms"]["p50"] == pytest.approx(10.0)
    json.dumps(s)


def test_a_wrong_status_for_the_kind_is_a_failure():
    # 200 is fine for a validation, not for a token issue (Keystone answers 201).
    assert not _rec(1.0, ISSUE, status=200).ok
    assert _rec(1.0, VALIDATE, status=200).ok


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--concurrency", "0"], "--concurrency must be greater than 0"),
        (["--timeout", "-1"], "--timeout must be greater than 0"),
        (["--duration", "-5"], "--duration must be 0"),
    ],
)
def test_bad_arguments_are_named(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        probe.parse_args(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_bad_url_is_a_clear_error(capsys):
    assert probe.main(["--url", "ftp://nowhere", "--duration", "0.1"]) == 2
    assert "--url: expected http(s)://host:port/v3" in capsys.readouterr().err


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_probe_against_a_dead_endpoint_reports_every_request_failed():
    # A port that was just freed: nothing listens, every request is refused.
    client = probe.KeystoneClient(f"http://127.0.0.1:{_closed_port()}/v3", "u", "p", "x", "default", 0.5)
    p = probe.Probe(client, concurrency=2)
    duration = p.run(0.3)
    s = summarize(p.records, duration)
    assert s["total"] > 0 and s["failed"] == s["total"]
    assert list(s["failures_by_status"]) == ["ConnectionRefusedError"]
    assert s["longest_gap_s"] == pytest.approx(duration, abs=0.01)


def test_bad_validate_url_is_a_clear_error(capsys):
    assert probe.main(["--validate-url", "nowhere", "--duration", "0.1"]) == 2
    assert "--validate-url: expected http(s)://host:port/v3" in capsys.readouterr().err


class _Site(http.server.BaseHTTPRequestHandler):
    """One site's Identity API: issues tokens named after it, validates any token."""

    def do_POST(self):  # pylint: disable=invalid-name
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(201)
        self.send_header("X-Subject-Token", f"token-of-{self.server.name}")
        self.send_header("X-Served-By", self.server.name)
        self.end_headers()

    def do_GET(self):  # pylint: disable=invalid-name
        self.server.validated.append(self.headers["X-Subject-Token"])
        self.send_response(200)
        self.send_header("X-Served-By", self.server.name)
        self.end_headers()

    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass


def _site(name):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    server.name, server.validated = name, []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_tokens_issued_at_one_site_are_validated_at_the_other():
    site_a, site_b = _site("a"), _site("b")
    try:
        client = probe.KeystoneClient(f"http://127.0.0.1:{site_a.server_port}/v3", "u", "p", "x", "default", 2,
                                      validate_url=f"http://127.0.0.1:{site_b.server_port}/v3")
        p = probe.Probe(client, concurrency=1)
        s = summarize(p.records, p.run(0.3))
    finally:
        site_a.shutdown()
        site_b.shutdown()
    assert s["failed"] == 0 and s["total"] > 0
    assert s["by_backend"].keys() == {"a", "b"}
    assert not site_a.validated and set(site_b.validated) == {"token-of-a"}
