"""The failure_message filter: as a function, and in a real playbook's rescue."""

import json
import os
import pathlib
import subprocess
import sys

import pytest
import yaml

from ansible.errors import AnsibleFilterError
from ansible_collections.opnfv.escalator.plugins.filter.failure_message import failure_message

ROOT = pathlib.Path(__file__).resolve().parents[4]


def test_a_plain_failure_gives_its_message_on_one_line():
    assert failure_message({"failed": True, "msg": "  no\n  route  "}) == "no route"


def test_a_loop_gives_each_failed_item_with_its_label():
    result = {"failed": True, "msg": "One or more items failed", "results": [
        {"failed": False, "item": "lb1", "msg": "fine"},
        {"failed": True, "item": "lb2", "msg": "socket refused"},
        {"failed": True, "item": {"x": 1}, "_ansible_item_label": "step on cmp1", "rc": 2},
        {"unreachable": True, "item": "lb3", "msg": "ssh timed out"},
    ]}
    assert failure_message(result) == (
        "lb2: socket refused; step on cmp1: exited with 2; lb3: ssh timed out")


def test_a_loop_without_item_messages_falls_back_to_its_own():
    assert failure_message({"msg": "One or more items failed", "results": [{"failed": True}]}) == \
        "One or more items failed"


def test_nothing_and_bad_input():
    assert failure_message(None) == ""
    assert failure_message({}) == ""
    with pytest.raises(AnsibleFilterError, match="expects a task result"):
        failure_message("text")


def test_in_a_rescue_it_names_the_item_and_why(tmp_path):
    # The same broken condition the finalize role once had: a mapping is not a boolean.
    book = tmp_path / "play.yml"
    book.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": [{
        "block": [{"name": "looped", "ansible.builtin.debug": {"msg": "x"}, "loop": ["a"],
                   "vars": {"m": {"k": True}}, "when": "m"}],
        "rescue": [{"name": "why", "ansible.builtin.debug": {
            "msg": "{{ ansible_failed_result | opnfv.escalator.failure_message }}"}}],
    }]}]))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
               PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run(["ansible-playbook", "-i", "localhost,", "-c", "local", str(book)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    out = json.loads(proc.stdout)
    why = out["plays"][0]["tasks"][-1]["hosts"]["localhost"]["msg"]
    assert why.startswith("a: ") and "Conditionals must have a boolean result" in why, why
