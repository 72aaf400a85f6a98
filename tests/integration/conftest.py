"""Fixtures for the integration tests: the lab must be up (`make lab-up`)."""

import datetime
import json
import os
import pathlib
import subprocess
import sys
import time

import pytest
import testinfra

ROOT = pathlib.Path(__file__).resolve().parents[2]
PROBE = ROOT / "lab" / "probe.py"
# Run the venv's ansible tools even when pytest was called by its full path.
os.environ["PATH"] = f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
os.environ.setdefault("ANSIBLE_CONFIG", str(ROOT / "ansible.cfg"))
# The lab's scripts (the probe, the webhook receiver) are plain files, not a package.
sys.path.insert(0, str(ROOT / "lab"))


def _inventory():
    out = subprocess.run(
        ["ansible-inventory", "-i", str(ROOT / "inventories" / "lab"), "--list"],
        check=True, capture_output=True, text=True, cwd=ROOT,
    ).stdout
    return json.loads(out)


@pytest.fixture(scope="session")
def inventory():
    return _inventory()


@pytest.fixture(scope="session")
def lab_hosts(inventory):
    """name -> testinfra host, through the same containers Ansible uses."""
    names = inventory["_meta"]["hostvars"]
    return {name: testinfra.get_host(f"docker://escalator-{name}") for name in names}


@pytest.fixture(scope="session")
def group(inventory):
    return lambda name: sorted(inventory[name]["hosts"])


@pytest.fixture(scope="session")
def address(inventory):
    return lambda host: inventory["_meta"]["hostvars"][host]["lab_address"]


@pytest.fixture(scope="session")
def vip_url(inventory):
    hv = next(iter(inventory["_meta"]["hostvars"].values()))
    return f"http://{hv['lab_vip']}:{hv['lab_keystone_port']}/v3"


def haproxy_states(lb):
    """server name -> HAProxy operational state (2 means UP) of the keystone backend."""
    out = lb.check_output("echo 'show servers state keystone' | socat stdio /run/haproxy/admin.sock")
    rows = [line.split() for line in out.splitlines() if line and line[0].isdigit()]
    return {row[3]: int(row[5]) for row in rows if len(row) > 5 and row[1] == "keystone"}


def wait_all_up(lb, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = haproxy_states(lb)
        if states and all(s == 2 for s in states.values()):
            return states
        time.sleep(1)
    raise AssertionError(f"backends not all UP after {timeout}s: {haproxy_states(lb)}")


def warm_up(url, rounds=6):
    """Issue a few tokens straight at one controller: fresh workers are slow at first."""
    import probe  # pylint: disable=import-outside-toplevel

    client = probe.KeystoneClient(url, "admin", "escalator-lab-admin", "admin", "default", 30)
    for dummy in range(rounds):
        client.issue()


class ProbeRun:
    """The traffic probe as a child process, stopped with SIGTERM like an operator would."""

    # A request not answered within 5 s (the probe's default) counts as failed. make test
    # runs these tests beside a molecule scenario on two cores; the demo and the benchmark,
    # which run alone, keep 3 s.
    def __init__(self, url, tmp_path, concurrency=4):
        self.records = tmp_path / "records.jsonl"
        self.proc = subprocess.Popen(
            [sys.executable, str(PROBE), "--url", url, "--duration", "0",
             "--concurrency", str(concurrency), "--timeout", "5", "--records", str(self.records)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.started = time.monotonic()

    def stop(self):
        self.proc.terminate()
        out, err = self.proc.communicate(timeout=60)
        assert self.proc.returncode == 0, err
        summary = json.loads(out)
        if summary["failed"]:
            # When each failed request started (the records' at), how long it waited and how
            # it ended, to set beside the run's audit log.
            summary["failed_requests"] = [
                {"at": datetime.datetime.fromtimestamp(rec["at"], datetime.timezone.utc).isoformat(),
                 "seconds": round(rec["end"] - rec["start"], 3), "kind": rec["kind"],
                 "status": rec["status"], "error": rec["error"]}
                for rec in map(json.loads, self.records.read_text().splitlines()) if not rec["ok"]][:20]
        return summary

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def probe_run(vip_url, tmp_path):
    runs = []

    def start(**kwargs):
        run = ProbeRun(vip_url, tmp_path, **kwargs)
        runs.append(run)
        return run

    yield start
    for run in runs:
        run.kill()
