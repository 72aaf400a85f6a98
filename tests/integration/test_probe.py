"""The traffic probe is how 'no outage' is measured: it must see an outage when there is one."""

import json
import subprocess
import time

from conftest import warm_up, wait_all_up


def test_probe_through_the_load_balancer_has_no_failures(probe_run, lab_hosts, group):
    run = probe_run()
    time.sleep(8)
    summary = run.stop()
    assert summary["total"] > 100
    assert summary["failed"] == 0, summary["failures_by_status"]
    # Round robin: every controller served part of the traffic.
    assert set(summary["by_backend"]) == set(group("controllers"))
    assert summary["longest_gap_s"] < 1.0


def test_probe_counts_failures_when_two_controllers_die(probe_run, lab_hosts, group, address):
    (lb,) = group("lb")
    victims = group("controllers")[:2]
    survivor = group("controllers")[2]
    run = probe_run()
    try:
        time.sleep(3)
        killed_at = time.monotonic() - run.started
        # Ungraceful: no drain, no SIGTERM, as if power was cut.
        subprocess.run(["docker", "kill", *(f"escalator-{v}" for v in victims)], check=True,
                       capture_output=True)
        time.sleep(6)
        summary = run.stop()
    finally:
        subprocess.run(["docker", "start", *(f"escalator-{v}" for v in victims)], check=True,
                       capture_output=True)
    records = [json.loads(line) for line in run.records.read_text().splitlines()]
    assert summary["failed"] > 0, summary
    assert summary["failed"] == sum(summary["failures_by_status"].values())
    failed = [r for r in records if r["status"] not in (200, 201)]
    assert len(failed) == summary["failed"]
    # Failures came after the kill, never before it.
    assert min(r["end"] for r in failed) >= killed_at - 0.5
    # The survivor kept serving: the outage was partial and the probe saw both sides.
    assert any(r["backend"] == survivor and r["end"] > killed_at + 3 for r in records)
    wait_all_up(lab_hosts[lb])
    for victim in victims:
        warm_up(f"http://{address(victim)}:5000/v3")
