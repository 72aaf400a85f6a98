"""meta/runtime.yml's action groups, used as a playbook would: module_defaults set once for
the snapshot modules reach both of them."""

import json
import os
import pathlib
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[4]


def test_module_defaults_for_the_snapshots_group_reach_snapshot_and_snapshot_info(tmp_path):
    root = tmp_path / "snapshots"
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "app.conf").write_text("a = 1\n")
    book = tmp_path / "play.yml"
    book.write_text(yaml.safe_dump([{
        "hosts": "localhost", "gather_facts": False,
        "module_defaults": {"group/opnfv.escalator.snapshots": {"root": str(root), "run_id": "run-1"}},
        "tasks": [
            {"opnfv.escalator.snapshot": {"name": "before", "paths": [str(tmp_path / "etc")]}},
            {"opnfv.escalator.snapshot_info": {}, "register": "found"},
        ]}]))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
               PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run(["ansible-playbook", "-i", "localhost,", "-c", "local", "-e",
                           f"ansible_python_interpreter={sys.executable}", str(book)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    created, info = [t["hosts"]["localhost"] for t in json.loads(proc.stdout)["plays"][0]["tasks"]]
    assert created["changed"] is True and (root / "before").is_dir()
    assert [s["name"] for s in info["snapshots"]] == ["before"]
