"""The error code catalogue: the engine uses exactly the codes it lists, and
docs/operations.md lists the same codes with the same words."""

import pathlib
import re

from ansible_collections.opnfv.escalator.plugins.plugin_utils._codes import CATALOGUE

ROOT = pathlib.Path(__file__).resolve().parents[4]
CODE = re.compile(r"ESC-[A-Z]+-\d{3}")


def test_the_engine_uses_every_code_and_only_those():
    used = set()
    for path in list((ROOT / "roles").rglob("*.yml")) + list((ROOT / "playbooks").glob("*.yml")):
        used |= set(CODE.findall(path.read_text()))
    assert used == set(CATALOGUE)


def test_the_documented_table_is_the_catalogue():
    text = (ROOT / "docs" / "operations.md").read_text()
    rows = {m.group(1): (m.group(2), m.group(3)) for m in
            re.finditer(r"^\| `(ESC-[A-Z]+-\d{3})` \| (.+?) \| (.+?) \|$", text, re.M)}
    assert rows == CATALOGUE


def test_every_code_is_named_by_a_test_of_a_real_run():
    """Each code is named in the engine's, the lab's or the OpenStack lab's tests (runs of the
    playbooks that produce it), not only in this catalogue's own tests."""
    named = set()
    for folder in ("tests/unit/engine", "tests/integration", "tests/openstack"):
        for path in (ROOT / folder).glob("test_*.py"):
            named |= set(CODE.findall(path.read_text()))
    assert sorted(set(CATALOGUE) - named) == []
