"""Faults injected into the lab's rolling upgrade of Keystone, each while the traffic probe runs.

Each test asserts that the run ends with a message naming the fault and what to run next,
that no request failed while Keystone kept its redundancy, that every controller is on one
version and serving, that Keystone's data is whole (a checksum of the rows the test wrote
before the fault, and every row written while the run went on still there), that nothing is
left drained at HAProxy, that the lock is released, and that the report and the audit log
say what happened.

A fault is injected when the run's audit log records a given step (Injector), so it lands
at the same point of the run each time. The lab starts at Keystone 28.1.0 and every test
leaves it there. The suite breaks the lab that ESCALATOR_TEST_INVENTORY names: make test
runs the tests marked faults_lab on the faults lab (inventories/lab-faults), beside the
integration tests, and the others after those, on their lab. With
ESCALATOR_FAULT_FIGURES=<file>, each test adds its figures to that file as a JSON line
(benchmarks/faults.py prints them).
"""

import json
import os
import pathlib
import random
import subprocess
import threading
import time

import pytest
import yaml

from conftest import (INVENTORY, MARKER, ROOT, assert_all_serving_at, flat, keystone_call, keystone_token,
                      last_report, no_failed_request, pair, run_playbook, run_under_probe)

# The runs' state directory, one per lab: make test runs this suite on two labs at once, and
# each module's first test wipes its own (no_earlier_state).
STATE = f"/tmp/escalator-{INVENTORY.name}-fault-state"
LAB_CAMPAIGN = yaml.safe_load((ROOT / "campaigns" / "lab.yml").read_text())
NAME = LAB_CAMPAIGN["name"]
ADMIN_SOCKET = "/run/haproxy/admin.sock"
pytestmark = pytest.mark.usefixtures("no_earlier_state")


def campaign(tmp_path, change=None, name="campaign.yml", phases=False, verify_timeout="30s"):
    """The lab campaign, its checks given 30 s (not the node's 270 s) to pass, changed by
    change(component). Without phases (the database steps, which take half a minute and have
    nothing left to do on a database test_upgrade.py migrated) unless asked for."""
    data = yaml.safe_load((ROOT / "campaigns" / "lab.yml").read_text())
    data["components"][0]["verify_timeout"] = verify_timeout
    if not phases:
        data["components"][0]["phases"] = {}
    if change:
        change(data["components"][0])
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def fails_on_new_version(check_name, command):
    """A verify check of the canary (the node marked with MARKER) on 29.1.0: command decides."""
    return {"name": check_name, "type": "command",
            "command": f"test ! -e {MARKER} || test \"$(readlink /opt/keystone/current)\" != /opt/keystone/29.1.0 "
                       f"|| {{ {command}; }}"}


class Injector(threading.Thread):
    """Calls fault() once, when the audit log of the run started after it records `when`,
    an (action, object, result) triple such as ("verify", "ctl1", "started"); at once
    when `when` is None."""

    def __init__(self, when, fault, delay=0.0):
        super().__init__(daemon=True)
        self.when, self.fault, self.delay = when, fault, delay
        self.known = set(pathlib.Path(STATE, "runs").glob("*.audit.jsonl"))
        self.done = threading.Event()
        self.fired_at = None
        self.error = None

    def _matched(self):
        if self.when is None:
            return True
        for audit in pathlib.Path(STATE, "runs").glob("*.audit.jsonl"):
            if audit in self.known:
                continue
            for line in audit.read_text().splitlines():
                try:
                    event = json.loads(line)
                except ValueError:
                    continue  # a line being written
                if (event["action"], event["object"], event["result"]) == self.when:
                    return True
        return False

    def run(self):
        while not self.done.is_set():
            if self._matched():
                time.sleep(self.delay)
                self.fired_at = time.monotonic()
                try:
                    self.fault()
                except Exception as exc:  # pylint: disable=broad-exception-caught
                    self.error = exc
                return
            time.sleep(0.1)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.join(timeout=300)
        assert self.error is None, f"the fault could not be injected: {self.error!r}"


class KeystoneData:
    """Rows the test writes through the VIP: projects before the fault (their checksum is
    kept) and, while the run goes on, one about every half second."""

    def __init__(self, vip_url, db, tag):
        self.vip_url, self.db, self.tag = vip_url, db, tag
        self.token = keystone_token(vip_url, "admin", "escalator-lab-admin")
        self.written = []
        self.refused = 0
        self._stop = threading.Event()
        self._thread = None
        for index in range(5):
            assert self._write(f"fault-{tag}-before-{index}"), "Keystone refused a project before the fault"
        self.sum_before = self.checksum()

    def _write(self, name):
        status, dummy, dummy = keystone_call(self.vip_url, "POST", "/projects", self.token, {"project": {
            "name": name, "domain_id": "default", "description": f"written by test_faults ({self.tag})"}})
        return status == 201

    def _sql(self, query):
        return self.db.check_output(f"sudo -u postgres psql -tAc \"{query}\" keystone").strip()

    def checksum(self):
        return self._sql("select md5(string_agg(id || ':' || name || ':' || coalesce(description, '') || ':' "
                         f"|| enabled::text, ',' order by id)) from project where name like 'fault-{self.tag}-before-%'")

    def _writer(self):
        index = 0
        while not self._stop.wait(0.5):
            name = f"fault-{self.tag}-during-{index}"
            index += 1
            try:
                ok = self._write(name)
            except OSError:
                ok = False
            if ok:
                self.written.append(name)
            else:
                self.refused += 1

    def __enter__(self):
        self._stop.clear()
        self._thread = threading.Thread(target=self._writer, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=60)

    def lost(self):
        """What is missing or changed: {} when nothing was lost."""
        found = set(self._sql(f"select name from project where name like 'fault-{self.tag}-during-%'").split())
        missing = [name for name in self.written if name not in found]
        lost = {}
        if missing:
            lost["rows written during the run and gone"] = missing
        if self.checksum() != self.sum_before:
            lost["rows written before the fault changed"] = True
        return lost


def audit_of(report):
    audit = pathlib.Path(STATE, "runs", f"{report['run_id']}.audit.jsonl")
    return [json.loads(line) for line in audit.read_text().splitlines()]


def figures(fault, summary, recover_s, lost, result, redundancy):
    """The fault's figures, for benchmarks/faults.py."""
    out = os.environ.get("ESCALATOR_FAULT_FIGURES")
    if out:
        with open(out, "a", encoding="utf-8") as stream:
            stream.write(json.dumps({"fault": fault, "requests": summary["total"], "failed_requests": summary["failed"],
                                     "recover_s": round(recover_s, 1), "lost": lost, "result": result,
                                     "redundancy_kept": redundancy}) + "\n")


@pytest.fixture
def survive(probe_run, lab_hosts, group, vip_url, request):
    """Runs a playbook under the probe while Keystone data is written, then asserts what
    every fault must leave: returns (process, report, audit events)."""
    (db,) = group("db")
    # Tagged per test and per run of it: the lab's database keeps the rows of earlier runs.
    data = KeystoneData(vip_url, lab_hosts[db], f"{request.node.name.split('_')[1]}-{os.urandom(3).hex()}")

    def run(fault, injector, *extra, playbook="upgrade.yml", words=(), next_step="run upgrade.yml again",
            version="28.1.0", redundancy=True, after=None, again=False):
        """With again, the same command is run a second time under the same checks (after a
        killed run); what follows is asserted of the second, and run.first is the first."""
        with data, injector:
            proc, summary = run_under_probe(probe_run, playbook, "-e", f"escalator_state_dir={STATE}", *extra,
                                            state=STATE, again=again)
        ended = time.monotonic()
        if again:
            run.first, proc = proc
        if after:
            after()
        out = flat(proc)
        assert injector.fired_at is not None, f"the fault was never injected (no {injector.when} event)"
        for text in words:
            assert text in out, (text, out[-4000:])
        assert next_step in out, out[-4000:]
        assert_all_serving_at(lab_hosts, group, version, state=STATE)
        lost = data.lost()
        assert not lost, lost
        if redundancy:
            assert summary["failed"] == 0, no_failed_request(summary, state=STATE)
        report = last_report("rollback" if playbook == "rollback.yml" else "report", state=STATE)
        figures(fault, summary, ended - injector.fired_at, lost, report.get("stopped") or "done", redundancy)
        return proc, report, audit_of(report)
    return run


@pytest.fixture(autouse=True)
def no_marker(lab_hosts, group):
    yield
    for name in group("controllers"):
        lab_hosts[name].run(f"rm -f {MARKER} /run/escalator-flapped")


# Where the controller may be killed: each step of each node (the last node's undrain
# aside: the run could end before the kill lands), the plan and the staging.
KILL_STEPS = ("guard", "drain", "snapshot", "upgrade", "verify", "undrain")


def kill_points(controllers):
    return [("plan", NAME, "ok"), ("stage", NAME, "started")] + [
        (step, host, "started") for host in controllers for step in KILL_STEPS
        if (step, host) != ("undrain", controllers[-1])]


@pytest.mark.faults_lab
def test_f03_a_controller_killed_at_a_random_step_is_resumed_by_the_same_command(
        survive, group, tmp_path):
    """Fault 3: ansible-playbook (its process and its workers) is killed with SIGKILL at a
    step chosen at random, up to 1.5 s after the step started (ESCALATOR_FAULT_SEED repeats
    a choice); what it had started on a node goes on without it. The same command, run
    again, takes over the lock the killed run left, passes over what that run finished and
    resumes the rest. rollback.yml then puts both runs back, the newest first, as
    docs/upgrade.md says."""
    seed = int(os.environ.get("ESCALATOR_FAULT_SEED") or random.SystemRandom().randrange(2**32))
    chance = random.Random(seed)
    point = chance.choice(kill_points(group("controllers")))
    delay = round(chance.uniform(0, 1.5), 2)
    where = f"killed {delay} s after {point} (ESCALATOR_FAULT_SEED={seed})"
    print(where)
    killed = {}

    def kill_the_controller():
        # Only this lab's runs: the other lab's state directory may share a prefix with this one's.
        killed["pkill"] = subprocess.run(["pkill", "-KILL", "-f", f"ansible-playbook .*escalator_state_dir={STATE}( |$)"],
                                         check=False).returncode
        killed["lock left"] = os.path.exists(f"{STATE}/lock")

    proc, report, dummy = survive("controller killed at a random step", Injector(point, kill_the_controller, delay=delay),
                                  "-e", f"escalator_campaign={campaign(tmp_path)}", next_step="", version="29.1.0",
                                  again=True)
    out = flat(proc)
    assert killed["pkill"] == 0 and survive.first.returncode == -9, (where, flat(survive.first)[-2000:])
    assert proc.returncode == 0, (where, out[-4000:])
    assert {node["result"] for node in report["nodes"].values()} <= {"upgraded", "already done"}, (where, report)
    runs = sorted(pathlib.Path(STATE, "runs").glob("*.plan.json"), key=lambda p: p.stat().st_mtime)[-2:]
    killed_run = runs[0].name.split(".")[0]
    assert runs[1].name.split(".")[0] == report["run_id"], (where, runs)
    if killed["lock left"]:
        assert f"The lock was left by run {killed_run}" in out and "whose process is gone" in out, (where, out[-4000:])
        interrupted = json.loads(pathlib.Path(STATE, "runs", f"{killed_run}.report.json").read_text())
        assert interrupted["interrupted"] is True, interrupted
    # Back to 28.1.0: the resumed run first, then the one that was killed (if it had taken
    # the lock: before, it changed nothing).
    assert report["resumes"] == (killed_run if killed["lock left"] else None), (where, report)
    said = rollback(survive, report, "rollback of the resumed run", version=None if killed["lock left"] else "28.1.0")
    if killed["lock left"]:
        assert f"Run rollback.yml -e escalator_run_id={killed_run} next" in said, (where, said[-3000:])
        rollback(survive, {"run_id": killed_run}, "rollback of the killed run")


def test_f04_a_wheel_corrupted_after_the_plan_is_refused_before_any_node_is_touched(
        survive, lab_hosts, group, tmp_path):
    """Fault 4: one wheel's bytes change between the plan (which checked the wheelhouse's
    manifest against the campaign's sha256) and the install: each node gets its own copy of
    the wheelhouse, and the canary's is corrupted once the plan is made."""
    copy = "/srv/fault-wheels/keystone-29.1.0"
    for name in group("controllers"):
        lab_hosts[name].check_output(f"rm -rf {copy} && mkdir -p {copy} && cp -a /srv/artifacts/keystone-29.1.0/. {copy}/")
    canary = lab_hosts[group("controllers")[0]]
    canary.check_output("rm -rf /opt/keystone/29.1.0")  # the others' venvs, if staged by an earlier run, are kept
    victim = canary.check_output(f"cd {copy} && ls -S *.whl | head -1")

    def corrupt():
        canary.check_output(f"printf 'X' | dd of={copy}/{victim} bs=1 seek=4096 conv=notrunc status=none")

    path = campaign(tmp_path, lambda comp: comp["upgrade"].update(wheelhouse_on_node=copy))
    try:
        proc, report, audit = survive("corrupted artifact", Injector(("plan", NAME, "ok"), corrupt),
                                      "-e", f"escalator_campaign={path}", words=(f"{victim}: FAILED",))
    finally:
        for name in group("controllers"):
            lab_hosts[name].run("rm -rf /srv/fault-wheels")
    assert proc.returncode != 0
    assert report["nodes"][pair(group("controllers")[0])]["result"] == "staging failed, service untouched", report
    assert not [e for e in audit if e["action"] == "drain"], "a node was drained"
    assert not canary.file("/opt/keystone/29.1.0/.installed").exists


def test_f05_a_disk_that_fills_during_the_install_stops_it_and_is_given_back(survive, lab_hosts, group, tmp_path):
    """Fault 5: the canary's install path is a 24 MiB tmpfs, too small for Keystone's venv."""
    canary = group("controllers")[0]
    node = lab_hosts[canary]
    node.check_output("rm -rf /opt/keystone/29.1.0 && mkdir -p /opt/keystone/29.1.0 && mount -t tmpfs -o size=24m escalator-full "
                      "/opt/keystone/29.1.0")
    try:
        proc, report, audit = survive("disk full during the install", Injector(("stage", NAME, "started"), lambda: None),
                                      "-e", f"escalator_campaign={campaign(tmp_path)}",
                                      words=("No space left on device", "[ESC-STAGE-001] staging keystone"))
        # What the failed install wrote is gone: the disk is given back.
        assert node.check_output("ls -A /opt/keystone/29.1.0") == ""
    finally:
        node.run("umount /opt/keystone/29.1.0")
    assert proc.returncode != 0
    assert report["nodes"][pair(canary)]["result"] == "staging failed, service untouched", report["nodes"]
    assert not [e for e in audit if e["action"] == "drain"], "a node was drained"


def move_admin_socket(lb, away):
    src, dst = (ADMIN_SOCKET, ADMIN_SOCKET + ".away") if away else (ADMIN_SOCKET + ".away", ADMIN_SOCKET)
    lb.check_output(f"mv {src} {dst}")


def test_f06a_an_admin_socket_gone_when_draining_leaves_the_node_in_service(survive, lab_hosts, group, tmp_path):
    """Fault 6: HAProxy's admin socket cannot be reached when the canary is to be drained
    (and stays so to the end of the run)."""
    (lb,) = group("lb")
    canary = group("controllers")[0]

    def short_timeout(comp):
        comp["maintenance"]["settings"]["timeout"] = 10

    try:
        proc, report, audit = survive(
            "admin socket gone when draining",
            Injector(("drain", canary, "started"), lambda: move_admin_socket(lab_hosts[lb], True)),
            "-e", f"escalator_campaign={campaign(tmp_path, short_timeout)}",
            words=("cannot reach the HAProxy runtime API at /run/haproxy/admin.sock (tried for 10 s)",),
            after=lambda: move_admin_socket(lab_hosts[lb], False))
    finally:
        lab_hosts[lb].run(f"test -e {ADMIN_SOCKET}.away && mv {ADMIN_SOCKET}.away {ADMIN_SOCKET}")
    assert proc.returncode != 0
    # Never taken out (the balancer could not even be read): not a node left drained.
    node = report["nodes"][pair(canary)]
    assert (node["result"], node["code"]) == ("not started, nothing changed", "ESC-DRAIN-002"), node
    assert not list(pathlib.Path(STATE, "drained").iterdir())
    assert not [e for e in audit if e["action"] in ("upgrade", "restore") and e["object"] == canary], audit


@pytest.mark.faults_lab
def test_f06b_an_admin_socket_gone_for_a_while_when_undraining_is_waited_for(survive, lab_hosts, group, tmp_path):
    """Fault 6: HAProxy's admin socket cannot be reached for 15 s from the canary's verify
    on, through its undrain; the run waits for it and finishes. rollback.yml then brings the
    lab back to 28.1.0 under the same checks."""
    (lb,) = group("lb")
    canary = group("controllers")[0]

    def gone_for_a_while():
        move_admin_socket(lab_hosts[lb], True)
        time.sleep(15)
        move_admin_socket(lab_hosts[lb], False)

    try:
        proc, report, audit = survive(
            "admin socket gone for 15 s when undraining", Injector(("verify", canary, "started"), gone_for_a_while),
            # With the database steps: the tests after this one may then leave them out.
            "-e", f"escalator_campaign={campaign(tmp_path, phases=True)}", next_step="", version="29.1.0")
    finally:
        lab_hosts[lb].run(f"test -e {ADMIN_SOCKET}.away && mv {ADMIN_SOCKET}.away {ADMIN_SOCKET}")
    assert proc.returncode == 0, flat(proc)[-4000:]
    assert {node["result"] for node in report["nodes"].values()} == {"upgraded"}, report["nodes"]
    undrain = [e for e in audit if e["action"] == "undrain" and e["object"] == canary]
    assert [e["result"] for e in undrain] == ["started", "ok"], undrain
    rollback(survive, report, "rollback after the admin socket came back")


def rollback(survive, report, fault, version="28.1.0"):
    """rollback.yml of the run that reported `report`, under the same checks: the lab back at
    28.1.0 (version None: not yet, another run is to be rolled back)."""
    proc, dummy, dummy = survive(fault, Injector(None, lambda: None), "-e", f"escalator_run_id={report['run_id']}",
                                 playbook="rollback.yml", next_step="", version=version)
    assert proc.returncode == 0, flat(proc)[-4000:]
    return flat(proc)


@pytest.mark.faults_lab
def test_f07_a_database_unreachable_for_20_s_during_a_node_upgrade_is_waited_out(
        survive, lab_hosts, group, tmp_path):
    """Fault 7: PostgreSQL stops answering for 20 s from the moment the canary starts its
    switch to 29.1.0: its container is frozen, so connections hang as across a network
    partition, rather than being refused. The canary's verify (given 90 s here) keeps trying
    until Keystone can reach its database again and the run finishes; the report names the
    checks that passed only after failing. rollback.yml then brings the lab back to 28.1.0.
    Keystone has one database: requests fail while it is gone (no redundancy to keep)."""
    (db,) = group("db")
    canary = group("controllers")[0]
    container = f"escalator-{db}"

    def unreachable_for_20_s():
        subprocess.run(["docker", "pause", container], check=True, capture_output=True)
        try:
            time.sleep(20)
        finally:
            subprocess.run(["docker", "unpause", container], check=True, capture_output=True)

    try:
        proc, report, audit = survive(
            "database unreachable for 20 s", Injector(("upgrade", canary, "started"), unreachable_for_20_s),
            "-e", f"escalator_campaign={campaign(tmp_path, verify_timeout='90s')}", next_step="", version="29.1.0",
            redundancy=False)
    finally:
        subprocess.run(["docker", "unpause", container], check=False, capture_output=True)
    assert proc.returncode == 0, flat(proc)[-4000:]
    assert {node["result"] for node in report["nodes"].values()} == {"upgraded"}, report["nodes"]
    retried = report["nodes"][pair(canary)]["verify_retried"]
    assert retried and all(check["ok"] and check["attempts"] > 1 for check in retried), retried
    # What it saw first was the database gone (no answer), not a fresh worker's slow first token.
    assert [check for check in retried if "slower than" not in check["failed_first"]], retried
    verified = [e for e in audit if e["action"] == "verify" and e["object"] == canary and e["result"] == "ok"]
    assert verified and verified[0]["duration_s"] >= 5, verified  # it waited for the database
    rollback(survive, report, "rollback after the database came back")


def test_f08_a_second_upgrade_and_a_rollback_started_while_one_runs_are_refused(
        survive, lab_hosts, group, tmp_path):
    """Fault 8: while the canary is being verified, the same upgrade.yml and a rollback.yml
    are started: both are refused, and the first run's lock stays with it."""
    canary = group("controllers")[0]
    lab_hosts[canary].run(f"touch {MARKER}")  # the first run fails its canary: the lab stays at 28.1.0
    path = campaign(tmp_path, lambda comp: comp["verify"].append(fails_on_new_version("injected failure", "false")))
    others = {}

    def start_two_more():
        def one(playbook):
            others[playbook] = run_playbook(playbook, "-e", f"escalator_state_dir={STATE}",
                                            "-e", f"escalator_campaign={path}", timeout=600)
        threads = [threading.Thread(target=one, args=(name,)) for name in ("upgrade.yml", "rollback.yml")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        others["lock held after"] = os.path.exists(f"{STATE}/lock")

    proc, report, dummy = survive("second upgrade and a rollback while one runs",
                                  Injector(("verify", canary, "started"), start_two_more),
                                  "-e", f"escalator_campaign={path}", words=("injected failure",))
    assert proc.returncode != 0
    for playbook in ("upgrade.yml", "rollback.yml"):
        out = flat(others[playbook])
        assert others[playbook].returncode != 0, out[-3000:]
        assert "Another run holds the lock" in out and f"run {report['run_id']}" in out, out[-3000:]
    assert others["lock held after"], "a refused run released the lock of the run that holds it"
    assert report["nodes"][pair(canary)]["result"] == "failed, restored", report["nodes"]


def test_f10_a_node_that_passes_its_verify_once_and_then_fails_is_restored(survive, lab_hosts, group, tmp_path):
    """Fault 10: the canary's verify passes once on 29.1.0 and fails from then on (it flaps);
    caught within the campaign's verify_stable window, while the canary is still drained."""
    canary = group("controllers")[0]
    lab_hosts[canary].run(f"touch {MARKER}")
    flapping = fails_on_new_version("flapping check",
                                    "test ! -e /run/escalator-flapped && touch /run/escalator-flapped")
    path = campaign(tmp_path, lambda comp: comp["verify"].append(flapping))
    proc, report, audit = survive("flapping node", Injector(("verify", canary, "started"), lambda: None),
                                  "-e", f"escalator_campaign={path}", words=("it flaps",))
    assert proc.returncode != 0
    node = report["nodes"][pair(canary)]
    assert node["result"] == "failed, restored" and "flapping check" in node["error"], node
    assert not [e for e in audit if e["action"] == "undrain" and e["object"] == canary
                and e["result"] == "ok" and e["time"] < next(
                    f["time"] for f in audit if f["action"] == "verify" and f["result"] == "failed")]


@pytest.mark.faults_lab
def test_f11_a_hung_restart_is_stopped_at_the_step_limit_and_the_node_restored(survive, lab_hosts, group, tmp_path):
    """Fault 11: on 29.1.0 the canary's Keystone never finishes starting (ExecStartPre
    hangs); the restart is stopped at the node's time limit and the node restored."""
    canary = group("controllers")[0]
    node = lab_hosts[canary]
    node.run(f"touch {MARKER}")
    dropin = "/etc/systemd/system/keystone.service.d/escalator-hang.conf"
    node.check_output(
        f"mkdir -p {os.path.dirname(dropin)} && printf '%s\\n' '[Service]' 'TimeoutStartSec=infinity' "
        f"'ExecStartPre=/bin/sh -c \"test ! -e {MARKER} || test $(readlink /opt/keystone/current) != "
        f"/opt/keystone/29.1.0 || exec sleep 3600\"' > {dropin} && systemctl daemon-reload")

    def short_limit(comp):
        comp["expected_duration"] = "20s"

    try:
        proc, report, dummy = survive("hung service restart", Injector(("upgrade", canary, "started"), lambda: None),
                                      "-e", f"escalator_campaign={campaign(tmp_path, short_limit)}",
                                      words=("ESC-UPGRADE-002",))
    finally:
        node.run(f"rm -f {dropin} && systemctl daemon-reload")
    assert proc.returncode != 0
    assert report["nodes"][pair(canary)]["result"] == "failed, restored", report["nodes"]
    assert node.run("pgrep -f 'exec sleep 3[6]00'").rc == 1  # the hung start is gone


@pytest.mark.faults_lab
def test_f09_a_snapshot_damaged_after_it_was_taken_is_not_restored_and_the_old_venv_stands_in(
        survive, lab_hosts, group, tmp_path):
    """Fault 9: the canary fails its verify, and its snapshot was damaged after it was
    taken: the restore refuses it before touching anything, and the old version's venv
    (all a wheelhouse upgrade changes on the node) is switched back instead."""
    canary = group("controllers")[0]
    node = lab_hosts[canary]
    node.run(f"touch {MARKER}")
    path = campaign(tmp_path, lambda comp: comp["verify"].append(fails_on_new_version("injected failure", "false")))

    proc, report, dummy = survive("snapshot damaged before the restore", Injector(("snapshot", canary, "ok"),
                                                                                  lambda: damage_snapshot(node, canary)),
                                  "-e", f"escalator_campaign={path}",
                                  words=("is damaged, nothing was restored",
                                         "/opt/keystone/current was switched back to /opt/keystone/28.1.0"))
    assert proc.returncode != 0
    assert report["nodes"][pair(canary)]["result"] == "failed, restored", report["nodes"]


def damage_snapshot(node, name):
    """One byte added to a file of the node's newest snapshot of keystone."""
    node.check_output(f"cd /var/lib/escalator/snapshots && d=$(ls -td *-keystone-{name} | head -1) && "
                      "f=$(ls $d | grep -v manifest.json | head -1) && printf x >> $d/$f")


@pytest.mark.faults_lab
def test_f09b_a_snapshot_damaged_before_a_rollback_is_stood_in_for_by_the_old_venv(
        survive, lab_hosts, group, tmp_path):
    """Fault 9, in rollback.yml: after a finished upgrade, one node's snapshot is damaged;
    the rollback refuses it before touching anything and switches that node's venv link
    back to the old version's venv instead, so every node ends on 28.1.0."""
    victim = group("controllers")[1]
    proc, report, dummy = survive("upgrade before a rollback with a damaged snapshot", Injector(None, lambda: None),
                                  "-e", f"escalator_campaign={campaign(tmp_path)}", next_step="", version="29.1.0")
    assert proc.returncode == 0, flat(proc)[-4000:]
    damage_snapshot(lab_hosts[victim], victim)
    rollback(survive, report, "rollback with a damaged snapshot")
    nodes = last_report("rollback", state=STATE)["nodes"]
    assert {name: node["result"] for name, node in nodes.items()} == {
        pair(name): "upgraded, then rolled back" for name in group("controllers")}, nodes
    assert "is damaged, nothing was restored" in nodes[pair(victim)]["note"], nodes[pair(victim)]
    assert "/opt/keystone/current was switched back to /opt/keystone/28.1.0" in nodes[pair(victim)]["note"]
    assert not [n for name, n in nodes.items() if name != pair(victim) and "note" in n], nodes


MIGRATIONS = "/opt/keystone/29.1.0/lib/python3*/site-packages/keystone/common/sql/migrations/versions"
BROKEN = "escalator fault injection: a broken migration"


def break_migrations(lab_hosts, group):
    """A revision that raises, in the staged 29.1.0 venv of every controller: alembic loads
    every revision, so keystone-manage db_sync fails whatever it has left to do."""
    for name in group("controllers"):
        lab_hosts[name].check_output(
            f"f=$(ls {MIGRATIONS}/27e647c0fad4_initial_version.py) && cp -p $f $f.orig && "
            f"echo 'raise RuntimeError(\"{BROKEN}\")' >> $f")


def mend_migrations(lab_hosts, group):
    for name in group("controllers"):
        lab_hosts[name].run(f"for f in {MIGRATIONS}/27e647c0fad4_initial_version.py; do "
                            f"test -e $f.orig && mv $f.orig $f; rm -rf $(dirname $f)/__pycache__; done")


def when_staged(lab_hosts, group, then, timeout=600):
    """then(), once every controller has a complete 29.1.0 venv (staged by this run or before)."""
    def wait():
        deadline = time.monotonic() + timeout
        while not all(lab_hosts[n].file("/opt/keystone/29.1.0/.installed").exists for n in group("controllers")):
            assert time.monotonic() < deadline, "the 29.1.0 venvs were never staged"
            time.sleep(1)
        then()
    return wait


def test_f02a_a_broken_migration_in_the_expand_step_stops_the_run_before_any_node(survive, lab_hosts, group,
                                                                                  tmp_path):
    """Fault 2: the database expand step fails (a broken migration in the new code)."""
    try:
        proc, report, audit = survive(
            "database expand fails",
            Injector(("stage", NAME, "started"), when_staged(lab_hosts, group,
                                                             lambda: break_migrations(lab_hosts, group))),
            "-e", f"escalator_campaign={campaign(tmp_path, phases=True)}",
            words=("[ESC-STEP-001]", "database expand", BROKEN))
    finally:
        mend_migrations(lab_hosts, group)
    assert proc.returncode != 0
    assert {node["result"] for node in report["nodes"].values()} == {"not reached"}, report["nodes"]
    assert not [e for e in audit if e["action"] == "drain"], "a node was drained"


def test_f02b_a_broken_migration_in_the_contract_step_is_run_again_by_the_next_run(survive, lab_hosts, group,
                                                                                   tmp_path):
    """Fault 2: the database contract step fails, once every node runs 29.1.0. Every node
    stays on 29.1.0 and serving; once mended, the same command runs the step again. The lab
    is left on 29.1.0: this test comes last."""
    last = group("controllers")[-1]
    path = campaign(tmp_path, phases=True)
    try:
        proc, report, dummy = survive(
            "database contract fails", Injector(("node", last, "upgraded"), lambda: break_migrations(lab_hosts, group)),
            "-e", f"escalator_campaign={path}", words=("[ESC-STEP-002]", "database contract", BROKEN),
            version="29.1.0")
    finally:
        mend_migrations(lab_hosts, group)
    assert proc.returncode != 0
    assert {node["result"] for node in report["nodes"].values()} == {"upgraded"}, report["nodes"]
    proc, report, dummy = survive("database contract run again", Injector(None, lambda: None),
                                  "-e", f"escalator_campaign={path}", next_step="", version="29.1.0")
    assert proc.returncode == 0, flat(proc)[-4000:]
    check = lab_hosts[group("controllers")[0]].run(
        "sudo -u keystone /opt/keystone/current/bin/keystone-manage db_sync --check")
    assert check.rc == 0, check.stdout + check.stderr  # expanded, migrated and contracted
