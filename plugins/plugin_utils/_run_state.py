# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The state directory of runs on the controller. Private to the opnfv.escalator collection.

It holds the run lock (a directory, so taking it is one atomic mkdir, with an ``owner``
file inside), the plan and report of each run under ``runs/``, and under ``drained/`` a
marker per node that a run took out of service: a run killed in between leaves the
marker, and the next run knows that node is out because of Escalator.

Every method takes ``check`` (compute, write nothing) and returns whether it changed, or
would change, anything. Pure Python, no Ansible: the action plugin and the tests call it.
"""

from __future__ import annotations

import os

SUBDIRS = ("runs", "drained")


class RunStateError(Exception):
    """A request that cannot be carried out; the message says why and what to do."""


def write_atomic(dest, text):
    """Write text to dest through a temporary file and a rename: never half a file."""
    directory = os.path.dirname(os.path.abspath(dest))
    os.makedirs(directory, exist_ok=True)
    tmp = f"{dest}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, dest)


def _read(path):
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


class RunState:
    """One state directory: ``<root>/lock``, ``<root>/runs/``, ``<root>/drained/``."""

    def __init__(self, root):
        self.root = os.path.abspath(root)
        self.lock_dir = os.path.join(self.root, "lock")
        self.owner_file = os.path.join(self.lock_dir, "owner")

    def owner(self):
        """Who holds the lock (its owner file, stripped), '' when held without one, None when free."""
        if not os.path.isdir(self.lock_dir):
            return None
        return (_read(self.owner_file) or "").strip()

    def lock(self, owner, check=False):
        """Take the lock for owner; taking it again for the same owner changes nothing."""
        held = self.owner()
        if held == owner:
            return False
        if held is not None:
            raise RunStateError(
                f"Another run holds the lock {self.lock_dir} (owner: {held or 'unknown'}). If no run is "
                "going on (a run that crashed leaves it behind), remove that directory and run again.")
        if check:
            return True
        for name in SUBDIRS:
            os.makedirs(os.path.join(self.root, name), exist_ok=True)
        try:
            os.mkdir(self.lock_dir)
        except FileExistsError:
            # Another run took it between the look and the mkdir.
            raise RunStateError(f"Another run took the lock {self.lock_dir} at the same moment; "
                                "run again once it has finished.") from None
        write_atomic(self.owner_file, owner + "\n")
        return True

    def unlock(self, check=False):
        """Release the lock, whoever holds it; releasing a free lock changes nothing."""
        if self.owner() is None:
            return False
        if not check:
            for name in os.listdir(self.lock_dir):
                os.unlink(os.path.join(self.lock_dir, name))
            os.rmdir(self.lock_dir)
        return True

    def _marker(self, node):
        if not node or "/" in node or node in (".", ".."):
            raise RunStateError(f"drained: {node!r} is not a node name")
        return os.path.join(self.root, "drained", node)

    def drained(self):
        """The nodes whose marker says a run took them out of service."""
        directory = os.path.join(self.root, "drained")
        return sorted(os.listdir(directory)) if os.path.isdir(directory) else []

    def mark(self, node, present, check=False):
        """Set (present) or clear the marker of node."""
        path = self._marker(node)
        if os.path.exists(path) == present:
            return False
        if not check:
            if present:
                write_atomic(path, node + "\n")
            else:
                os.unlink(path)
        return True

    def save(self, name, text, check=False):
        """Write text to a file of the state directory (e.g. runs/<run_id>.plan.json)."""
        if os.path.isabs(name) or ".." in name.split("/") or not name.strip("/"):
            raise RunStateError(f"files: {name!r} must be a path inside the state directory")
        path = os.path.join(self.root, name)
        if _read(path) == text:
            return False
        if not check:
            write_atomic(path, text)
        return True
