import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _collection_root():
    """A directory holding ansible_collections/opnfv/escalator -> this checkout.

    `make` creates it; creating it here too lets `pytest tests/unit` run on its own.
    """
    base = ROOT / ".build" / "collections"
    link = base / "ansible_collections" / "opnfv" / "escalator"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(ROOT)
    return base


sys.path.insert(0, str(_collection_root()))
# The lab's scripts are plain files, not an importable package; helpers.py is beside this file.
sys.path.insert(0, str(ROOT / "lab"))
sys.path.insert(0, str(pathlib.Path(__file__).parent))
