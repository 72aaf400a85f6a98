"""The HTML report: one self-contained page (no script, nothing fetched) with the plan,
the timeline drawn from the audit log, the availability from probe records, versions
and audit events; and, in a real headless Chromium, the charts are there."""

import datetime
import shutil
import struct
import subprocess

import pytest

from ansible_collections.opnfv.escalator.plugins.plugin_utils import _html_report as h

T0 = datetime.datetime(2026, 12, 3, 10, 0, tzinfo=datetime.timezone.utc).timestamp()


def at(seconds):
    return datetime.datetime.fromtimestamp(T0 + seconds, datetime.timezone.utc).isoformat(timespec="milliseconds")


def event(t, host, action, result, code=None, component="keystone"):
    return {"time": at(t), "component": component, "object": host, "action": action, "result": result,
            "duration_s": None, "code": code, "message": None, "run_id": "r1", "user": "ops"}


AUDIT = [{"time": at(0), "component": None, "object": "lab", "action": "plan", "result": "ok", "code": None,
          "message": "2 nodes", "duration_s": None}]
for host, start in (("ctl1", 10), ("ctl2", 60)):
    AUDIT += [event(start, host, "drain", "started"), event(start + 2, host, "drain", "ok"),
              event(start + 2, host, "upgrade", "started"), event(start + 20, host, "upgrade", "ok"),
              event(start + 20, host, "verify", "started")]
    if host == "ctl2":
        AUDIT += [event(start + 30, host, "verify", "failed"), event(start + 30, host, "restore", "started"),
                  event(start + 40, host, "restore", "ok"),
                  event(start + 41, host, "node", "failed, restored", code="ESC-VERIFY-001")]
    else:
        AUDIT += [event(start + 25, host, "verify", "ok"), event(start + 25, host, "undrain", "started"),
                  event(start + 26, host, "undrain", "ok"), event(start + 26, host, "node", "upgraded")]
PLAN = {"run_id": "r1", "campaign": {"name": "lab"}}
REPORT = {"run_id": "r1", "stopped": "Upgrade of keystone on ctl2 failed at verify <check>", "code": "ESC-VERIFY-001",
          "user": "ops", "seconds": 110, "nodes": {
              "keystone@ctl1": {"result": "upgraded", "from_version": "28.1.0", "version": "29.1.0"},
              "keystone@ctl2": {"result": "failed, restored", "from_version": "28.1.0", "code": "ESC-VERIFY-001"}}}
RECORDS = [{"at": T0 + i / 10, "ok": not 700 <= i < 705} for i in range(1100)]


def test_spans_follow_the_audit_log():
    spans, failures = h.spans(AUDIT)
    assert [(w, s - T0, e - T0) for w, s, e in spans["keystone@ctl1"]] == [
        ("upgrade", 12, 30), ("verify", 30, 35), ("out of service", 10, 36)]
    assert ("restore", 90, 100) in [(w, s - T0, e - T0) for w, s, e in spans["keystone@ctl2"]]
    assert [f - T0 for f in failures["keystone@ctl2"]] == [90]


def test_the_page_is_self_contained_and_holds_every_part():
    page = h.render(PLAN, REPORT, AUDIT, RECORDS, "Plan r1 for campaign 'lab'")
    assert '<figure id="timeline"><svg' in page and '<figure id="availability"><svg' in page
    assert "<script" not in page.lower() and "src=" not in page.lower() and "@import" not in page
    assert "Availability: 1100 requests, 5 failed" in page
    assert "stopped [ESC-VERIFY-001]: Upgrade of keystone on ctl2 failed at verify &lt;check&gt;" in page
    assert "<td>keystone@ctl2</td><td>28.1.0</td><td>-</td>" in page and "Started by ops" in page
    assert page.count("<tr>") == 1 + 2 + 1 + len(AUDIT)
    assert "passed only after failing" not in page and "Resumes run" not in page


def test_checks_that_passed_only_after_failing_and_the_run_resumed_are_shown():
    nodes = {"keystone@ctl1": dict(REPORT["nodes"]["keystone@ctl1"], verify_retried=[
        {"name": "token", "attempts": 5, "ok": True, "failed_first": "no answer from <vip>: timed out"}])}
    page = h.render(PLAN, dict(REPORT, nodes=nodes, resumes="r0"), AUDIT, [], "")
    assert "<td>keystone@ctl1</td><td>token</td><td>5</td><td>no answer from &lt;vip&gt;: timed out</td>" in page
    assert "Resumes run r0, which was interrupted." in page


def test_without_a_probe_or_a_report_the_page_says_so():
    page = h.render(PLAN, {}, AUDIT[:1], [], "")
    assert "No traffic probe ran with this run." in page and "no report (killed?)" in page
    assert "No node was touched." in page


def png_size(path):
    with open(path, "rb") as handle:
        head = handle.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


CHROMIUM = shutil.which("chromium")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is installed by make deps")
def test_a_real_browser_renders_the_timeline_and_the_availability_chart(tmp_path):
    page = tmp_path / "report.html"
    page.write_text(h.render(PLAN, REPORT, AUDIT, RECORDS, "Plan r1 for campaign 'lab'"))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert '<figure id="timeline"><svg' in dom and '<figure id="availability"><svg' in dom
    assert dom.count("<path") > 20
    shot = tmp_path / "report.png"
    subprocess.run([CHROMIUM, *flags, "--window-size=1280,1600", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert png_size(shot) == (1280, 1600) and shot.stat().st_size > 50_000
