"""`ansible-doc` shows every plugin of the collection, with examples and return values."""

import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
ENV = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
           PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")


def _doc(*args):
    out = subprocess.run(["ansible-doc", "--json", *args], cwd=ROOT, env=ENV, capture_output=True, text=True,
                         check=True, timeout=120).stdout
    return json.loads(out)


def test_every_module_and_action_plugin_is_documented():
    modules = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py") if p.stem != "__init__")
    actions = sorted(p.stem for p in (ROOT / "plugins" / "action").glob("*.py") if p.stem != "__init__")
    assert set(actions) <= set(modules), "an action plugin takes its documentation from the module of its name"
    listed = _doc("--list", "opnfv.escalator")
    assert sorted(name.split(".")[-1] for name in listed) == modules
    docs = _doc(*(f"opnfv.escalator.{name}" for name in modules))
    for name in modules:
        doc = docs[f"opnfv.escalator.{name}"]
        assert doc["doc"]["short_description"] and doc["doc"]["description"], name
        assert doc["examples"].strip(), f"{name} has no examples"
        assert doc["return"], f"{name} documents no return values"
        for option, spec in doc["doc"].get("options", {}).items():
            assert spec.get("description"), f"{name}: option {option} has no description"


def test_every_filter_is_documented():
    filters = sorted(p.stem for p in (ROOT / "plugins" / "filter").glob("*.py") if p.stem != "__init__")
    listed = _doc("-t", "filter", "--list", "opnfv.escalator")
    assert sorted(name.split(".")[-1] for name in listed) == filters
    docs = _doc("-t", "filter", *(f"opnfv.escalator.{name}" for name in filters))
    for name in filters:
        doc = docs[f"opnfv.escalator.{name}"]
        assert doc["doc"]["short_description"] and doc["doc"]["description"], name
        assert doc["examples"].strip() and doc["return"], name


def test_every_callback_is_documented_with_its_options():
    callbacks = sorted(p.stem for p in (ROOT / "plugins" / "callback").glob("*.py") if p.stem != "__init__")
    listed = _doc("-t", "callback", "--list", "opnfv.escalator")
    assert sorted(name.split(".")[-1] for name in listed) == callbacks
    docs = _doc("-t", "callback", *(f"opnfv.escalator.{name}" for name in callbacks))
    for name in callbacks:
        doc = docs[f"opnfv.escalator.{name}"]["doc"]
        assert doc["short_description"] and doc["description"], name
        assert all(spec.get("description") for spec in doc.get("options", {}).values()), name
