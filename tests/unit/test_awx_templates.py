"""examples/awx/job_templates.yml: each job template runs a playbook of this collection, and
each survey question sets a variable that playbook reads (so no answer is silently
ignored). No AWX is reachable here; the playbook's syntax is checked and it is linted."""

import os
import pathlib
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
BOOK = ROOT / "examples" / "awx" / "job_templates.yml"


def test_every_template_runs_a_playbook_that_reads_its_survey():
    (play,) = yaml.safe_load(BOOK.read_text())
    questions = {k: v["variable"] for k, v in play["vars"].items() if isinstance(v, dict) and "variable" in v}
    templates = play["vars"]["__awx_templates"]
    assert [t["playbook"] for t in templates] == ["playbooks/plan.yml", "playbooks/upgrade.yml", "playbooks/rollback.yml"]
    shared = (ROOT / "playbooks" / "vars" / "run.yml").read_text()
    for template in templates:
        text = (ROOT / template["playbook"]).read_text() + shared
        for question in template["questions"]:
            variable = questions[question.strip("{} ")]
            assert variable in text, (template["name"], variable)


def test_it_passes_syntax_check():
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
               PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run(["ansible-playbook", "--syntax-check", str(BOOK)], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
