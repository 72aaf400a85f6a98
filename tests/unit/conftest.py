import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
# The lab's scripts are plain files, not an importable package.
sys.path.insert(0, str(ROOT / "lab"))
