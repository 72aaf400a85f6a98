"""Fixtures for the integration tests: the lab must be up (`make lab-up`).

They use the lab of inventories/lab, or the one ESCALATOR_TEST_INVENTORY names (a path from
the collection's root): `make integration-faults` runs the fault-injection suite on the
faults lab (inventories/lab-faults), which can be up beside the other one."""

import datetime
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import testinfra

ROOT = pathlib.Path(__file__).resolve().parents[2]
PROBE = ROOT / "lab" / "probe.py"
# Run the venv's ansible tools even when pytest was called by its full path.
os.environ["PATH"] = f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
os.environ.setdefault("ANSIBLE_CONFIG", str(ROOT / "ansible.cfg"))
# The lab's scripts (the probe, the webhook receiver) are plain files, not a package.
sys.path.insert(0, str(ROOT / "lab"))
INVENTORY = ROOT / os.environ.get("ESCALATOR_TEST_INVENTORY", "inventories/lab")


def _inventory():
    out = subprocess.run(
        ["ansible-inventory", "-i", str(INVENTORY), "--list"],
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


# The runs' state directory of test_upgrade.py (test_faults.py keeps its own), and the
# file whose presence makes the lab campaign's injected check fail.
STATE = "/tmp/escalator-test-state"
MARKER = "/etc/escalator-fail-verify"


@pytest.fixture(scope="module")
def no_earlier_state(request):
    """The module's runs start with no lock and no report of an earlier run: its state
    directory (the module's STATE) is wiped when its tests start, not when it is imported,
    so collecting the tests beside a run (pytest --collect-only) leaves that run's state be."""
    shutil.rmtree(request.module.STATE, ignore_errors=True)


def run_playbook(name, *extra, env=None, timeout=1800):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", **(env or {}))
    return subprocess.run(["ansible-playbook", "-i", str(INVENTORY), str(ROOT / "playbooks" / name),
                           *extra], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def flat(proc):
    """The playbook's output with its lines joined: Ansible folds long messages."""
    return " ".join((proc.stdout + proc.stderr).split())


def pair(host):
    """The report's name of the keystone (component, host) pair."""
    return f"keystone@{host}"


def keystone_version(host):
    return host.check_output("/opt/keystone/current/bin/python -c "
                             "'import importlib.metadata as m; print(m.version(\"keystone\"))'")


def run_under_probe(probe_run, name, *extra, state=STATE, again=False):
    """Run a playbook with the traffic probe running before, during and after it: (process,
    summary). With again, the same command is run a second time once the first has ended
    (as an operator would after an interrupted run): ((first, second), summary)."""
    run = probe_run()
    time.sleep(2)
    proc = run_playbook(name, "-e", f"escalator_state_dir={state}", *extra)
    if again:
        proc = (proc, run_playbook(name, "-e", f"escalator_state_dir={state}", *extra))
    time.sleep(2)
    return proc, run.stop()


def last_report(kind="report", state=STATE):
    reports = sorted(pathlib.Path(state, "runs").glob(f"*.{kind}.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(reports[-1].read_text())


def assert_all_serving_at(lab_hosts, group, version, state=STATE):
    """Every controller on `version` (None: whatever each runs) and serving, and no lock."""
    for name in group("controllers"):
        assert version is None or keystone_version(lab_hosts[name]) == version, name
    (lb,) = group("lb")
    states = haproxy_states(lab_hosts[lb])
    assert states == {name: 2 for name in group("controllers")}, states  # nothing left drained
    assert not os.path.exists(f"{state}/lock")


def no_failed_request(summary, state=STATE):
    """The assertion message for a probe summary that should show no failed request: the
    summary and, for each failed request, the newest run's audit events of the 15 s before it."""
    failed = summary.get("failed_requests", [])
    audits = sorted(pathlib.Path(state, "runs").glob("*.audit.jsonl"), key=lambda p: p.stat().st_mtime)
    if not failed or not audits:
        return summary
    events = [json.loads(line) for line in audits[-1].read_text().splitlines()]
    near = []
    for request in failed:
        at = datetime.datetime.fromisoformat(request["at"])
        near.append((request, [f"{e['time']} {e['action']} {e['object']} {e['result']}" for e in events
                               if 0 <= (at - datetime.datetime.fromisoformat(e["time"])).total_seconds() <= 15]))
    return {"summary": summary, "failed requests and the audit events before them": near}


def keystone_call(url, method, path, token=None, body=None):
    """One call to the lab's real Keystone: (status, headers, JSON body). The headers stay the
    response's own message, looked up without regard to case: HAProxy sends their names in
    lower case."""
    headers = {"Content-Type": "application/json", **({"X-Auth-Token": token} if token else {})}
    request = urllib.request.Request(url + path, data=json.dumps(body).encode() if body is not None else None,
                                     method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, response.headers, json.loads(raw) if raw else {}
    except urllib.error.HTTPError as exc:
        return exc.code, {}, {}


def keystone_token(url, user, password, project="admin"):
    """A project-scoped token; retried while a fresh role assignment reaches every controller's cache."""
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"id": "default"}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"id": "default"}}}}}
    for dummy in range(30):
        status, headers, dummy_body = keystone_call(url, "POST", "/auth/tokens", body=body)
        if status == 201:
            return headers.get("X-Subject-Token")
        time.sleep(1)
    raise AssertionError(f"no token for {user}: {status}")


def pytest_configure(config):
    config.addinivalue_line("markers", "faults_lab: a fault of tests/integration/test_faults.py that make test runs on "
                                       "the faults lab (inventories/lab-faults) beside the integration tests, not after "
                                       "them on the lab (make integration-faults runs them all on the faults lab)")


def pytest_collection_modifyitems(items):
    """The fault-injection suite runs last: it starts from the lab test_upgrade.py leaves
    (Keystone 28.1.0, every 29.1.0 venv staged) and its last test leaves 29.1.0."""
    items.sort(key=lambda item: item.path.name == "test_faults.py")
