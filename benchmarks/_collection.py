"""Make the collection importable as ansible_collections.opnfv.escalator from a checkout."""

import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def add_to_path():
    base = ROOT / ".build" / "collections"
    link = base / "ansible_collections" / "opnfv" / "escalator"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(ROOT)
    if str(base) not in sys.path:
        sys.path.insert(0, str(base))
