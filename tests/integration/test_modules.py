"""The collection's modules against the real lab, each state change four ways."""

import os
import pathlib
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PLAYBOOKS = pathlib.Path(__file__).parent / "playbooks"


def playbook(name):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run(["ansible-playbook", "-i", str(ROOT / "inventories" / "lab"), str(PLAYBOOKS / name)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.parametrize("name", ["health_check.yml", "bad_arguments.yml", "snapshot.yml"])
def test_module_playbook(name):
    playbook(name)


def test_drain_restart_and_undrain_under_traffic(probe_run):
    run = probe_run()
    time.sleep(2)
    playbook("maintenance_haproxy.yml")
    time.sleep(2)
    summary = run.stop()
    assert summary["total"] > 100
    assert summary["failed"] == 0, summary
    assert summary["by_backend"].get("ctl1", 0) > 0
