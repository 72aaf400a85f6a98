"""The plan action plugin, driven the way operators drive it: playbooks/plan.yml.

These runs are real (ansible-playbook, the real inventory plugin and templating) but
touch no host: the plan is computed on the controller.
"""

import json
import os
import pathlib
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[4]
EXAMPLE = ROOT / "inventories" / "example"
CAMPAIGN = ROOT / "campaigns" / "openstack-two-sites.yml"


def run_plan(*extra, inventory=EXAMPLE):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    return subprocess.run(["ansible-playbook", "-i", str(inventory), "playbooks/plan.yml", *extra],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_plan_of_the_example_cloud(tmp_path):
    dest = tmp_path / "plan.json"
    proc = run_plan("-e", f"escalator_plan_file={dest}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    plan = json.loads(dest.read_text())
    assert plan["plan_format"] == 2
    assert plan["order"] == ["keystone", "nova-control", "network-agents", "nova-compute", "ceph-osd"]
    compute = plan["components"][3]
    assert compute["canary"] == "cmp-a01" and compute["batches"][0] == 1
    assert sum(compute["batches"]) == 24
    assert "nova-compute    32.1.0   1       1" in proc.stdout
    assert "changed=1" in proc.stdout


def test_check_mode_writes_nothing(tmp_path):
    dest = tmp_path / "plan.json"
    proc = run_plan("--check", "-e", f"escalator_plan_file={dest}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Plan " in proc.stdout
    assert not dest.exists()


def test_a_bad_campaign_fails_with_every_path_and_no_traceback(tmp_path):
    campaign = yaml.safe_load(CAMPAIGN.read_text())
    campaign["components"][1]["redundancy"]["max_unavailable"] = 0
    campaign["components"][3]["on_failure"] = "retry"
    bad = tmp_path / "campaign.yml"
    bad.write_text(yaml.safe_dump(campaign))
    dest = tmp_path / "plan.json"
    proc = run_plan("-e", f"escalator_campaign={bad}", "-e", f"escalator_plan_file={dest}")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2
    assert "components[1].redundancy.max_unavailable: must be at least 1" in out
    assert "components[3].on_failure: must be one of rollback_batch, rollback_all, pause, got 'retry'" in out
    assert "(2 problem(s))" in out
    assert "Traceback" not in out
    assert not dest.exists()


DUPLICATE = """
name: twice
components:
  - name: keystone
    targets: controllers
    version: '29.1.0'
    redundancy:
      max_unavailable: 1
      max_unavailable: 100%
"""


@pytest.mark.parametrize("content, message", [
    (None, "Cannot read the campaign"),
    ("name: [unclosed", "is not valid YAML"),
    (DUPLICATE, "the key 'max_unavailable' is given twice (lines 8 and 9); the last would silently win"),
    (b"name: caf\xe9\n", "is not UTF-8 text: invalid continuation byte at byte 9"),
    ("name: big\n" + "# padding\n" * 120000, "bytes; a campaign may have at most 1048576 (1 MiB)"),
    ("a: " + "[" * 5000 + "]" * 5000, "nests too deeply to be a campaign"),
], ids=["missing", "bad-yaml", "duplicate-key", "not-utf8", "too-big", "too-deep"])
def test_unreadable_campaigns_are_clear_errors(tmp_path, content, message):
    path = tmp_path / "campaign.yml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    proc = run_plan("-e", f"escalator_campaign={path}", "-e", f"escalator_plan_file={tmp_path / 'p.json'}")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2
    assert message in out and "Traceback" not in out


def test_a_second_run_with_the_same_run_id_changes_nothing(tmp_path):
    dest = tmp_path / "plan.json"
    pb = tmp_path / "pb.yml"
    pb.write_text(yaml.safe_dump([{
        "name": "plan twice", "hosts": "localhost", "connection": "local", "gather_facts": False,
        "tasks": [{"name": f"plan {n}", "register": f"r{n}", "opnfv.escalator.plan": {
            "campaign": str(CAMPAIGN), "dest": str(dest), "run_id": "fixed"}} for n in (1, 2)]
        # Planned again a second later, the same run still changes nothing.
        + [{"name": "wait", "ansible.builtin.pause": {"seconds": 1}},
           {"name": "plan 3", "register": "r3", "opnfv.escalator.plan": {
               "campaign": str(CAMPAIGN), "dest": str(dest), "run_id": "fixed"}}]
        + [{"name": "check", "ansible.builtin.assert": {"that": ["r1 is changed", "r2 is not changed", "r3 is not changed"]}}],
    }]))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
               PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run(["ansible-playbook", "-i", str(EXAMPLE), str(pb)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
