# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The state directory of runs. Private to the opnfv.escalator collection.

It lives on the controller, or on an inventory host that keeps it for every controller
(the run_state module runs this code there). It holds the run lock (a directory, so taking it is one atomic mkdir, with an ``owner``
file inside), the plan and report of each run under ``runs/``, under ``drained/`` a
marker per node that a run took out of service: a run killed in between leaves the
marker, and the next run knows that node is out because of Escalator; and under
``pending/`` a marker per component whose steps after its last node have started and
not yet all succeeded, so the next run runs them again.

Every method takes ``check`` (compute, write nothing) and returns whether it changed, or
would change, anything. Pure Python, no Ansible: the action plugin, the module and the
tests call it.
"""

from __future__ import annotations

import json
import os
import socket

SUBDIRS = ("runs", "drained", "pending")
LOCK = "lock"


def machine():
    """This machine as '<hostname>/<machine id>'. Containers on the host's network share
    its hostname, never its machine id (nor its processes)."""
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        ident = _read(path)
        if ident and ident.strip():
            return f"{socket.gethostname()}/{ident.strip()}"
    return socket.gethostname()


def process_identity(pid):
    """'<machine> <pid> <start time>' of a process on this machine, or None when it is gone.

    The start time (from /proc) tells a live process from a later one that got the same
    pid."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return f"{machine()} {pid} {fields[19]}"


def process_alive(identity):
    """False when identity names a process of this machine that is gone; True when it is
    alive or belongs to another machine (which cannot be asked)."""
    parts = (identity or "").split()
    if len(parts) != 3 or parts[0] != machine() or not parts[1].isdigit():
        return True
    return process_identity(int(parts[1])) == identity


def _read(path):
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except (FileNotFoundError, NotADirectoryError):
        return None


# The request's marker options: which marker each sets (drained, pending) or clears.
MARKER_OPTIONS = (("drained", "drained"), ("undrained", "drained"), ("pending", "pending"), ("settled", "pending"))


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


def text_of(content):
    """A file's text: a string as it is, anything else as indented JSON."""
    if isinstance(content, str):
        return content
    return json.dumps(content, indent=2, sort_keys=True, default=str) + "\n"


def apply(state, args, check=False, process=None):
    """Carry out one run_state request (the module's arguments) on state; whether it changed.

    Every name is checked first and the lock taken next, so a refused request writes
    nothing; a lock this request took is given back if the rest fails. Released last."""
    texts = {name: text_of(content) for name, content in (args.get("files") or {}).items()}
    for name in texts:
        state.file_path(name)
    markers = [(option, kind, args[option]) for option, kind in MARKER_OPTIONS if args.get(option) is not None]
    for option, kind, node in markers:
        state._marker(node, kind, option)
    changed = took = False
    if args.get("lock") == "taken":
        took = state.lock(args.get("owner") or "escalator", check=check, process=process)
        changed |= took
    try:
        for name, text in texts.items():
            changed |= state.save(name, text, check=check)
        for option, kind, node in markers:
            changed |= state.mark(node, option in ("drained", "pending"), check=check, kind=kind)
    except BaseException:
        if took and not check:
            state.unlock()
        raise
    if args.get("lock") == "released":
        changed |= state.unlock(check=check)
    return changed


class RunState:
    """One state directory: ``<root>/lock``, ``<root>/runs/``, ``<root>/drained/``,
    ``<root>/pending/``."""

    def __init__(self, root):
        self.root = os.path.abspath(root)
        self.lock_dir = os.path.join(self.root, LOCK)
        self.owner_file = os.path.join(self.lock_dir, "owner")
        self.process_file = os.path.join(self.lock_dir, "process")
        # The owner of a lock left by a run whose process is gone, when lock() took it over.
        self.taken_over = None

    def owner(self):
        """Who holds the lock (its owner file, stripped), '' when held without one, None when free."""
        if not os.path.isdir(self.lock_dir):
            return None
        return (_read(self.owner_file) or "").strip()

    def holder_process(self):
        """The identity of the process holding the lock, as process_identity() wrote it."""
        return (_read(self.process_file) or "").strip() or None

    def lock(self, owner, check=False, process=None):
        """Take the lock for owner; taking it again for the same owner changes nothing.

        ``process`` is the identity of the process taking it (process_identity()). A lock
        whose process is known to be gone (a run killed, or stopped with Ctrl-C) is taken
        over and its owner kept in ``taken_over``; any other held lock is refused.
        """
        held = self.owner()
        # Taking it again for the same owner changes nothing, unless another live process
        # holds it under that name: two callers with the default owner do not both hold it.
        holder = self.holder_process()
        if held == owner and (process is None or holder in (None, process) or not process_alive(holder)):
            if process and holder != process and not check:
                write_atomic(self.process_file, process + "\n")
            return False
        if held is not None:
            if process_alive(self.holder_process()):
                running = f", process {self.holder_process()}" if self.holder_process() else ""
                raise RunStateError(
                    f"Another run holds the lock {self.lock_dir} (owner: {held or 'unknown'}{running}). Wait for "
                    "it to finish; if no run is going on (one on another machine that crashed leaves it "
                    "behind), remove that directory and run again.")
            self.taken_over = held
            if not check:
                self.unlock()
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
        if process:
            write_atomic(self.process_file, process + "\n")
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

    def _marker(self, node, kind="drained", option=None):
        if not isinstance(node, str) or not node or "/" in node or "\0" in node or node in (".", "..") or len(node.encode()) > 255:
            raise RunStateError(f"{option or kind}: {str(node)[:80]!r} is not a {'node' if kind == 'drained' else 'component'} "
                                f"name (1 to 255 bytes, no '/')")
        return os.path.join(self.root, kind, node)

    def _listed(self, kind):
        directory = os.path.join(self.root, kind)
        return sorted(os.listdir(directory)) if os.path.isdir(directory) else []

    def drained(self):
        """The nodes whose marker says a run took them out of service."""
        return self._listed("drained")

    def pending(self):
        """The components whose steps after their last node a run started and did not finish."""
        return self._listed("pending")

    def mark(self, node, present, check=False, kind="drained"):
        """Set (present) or clear the marker of node (a node drained, or a component's
        after steps pending)."""
        path = self._marker(node, kind)
        if os.path.exists(path) == present:
            return False
        if not check:
            if present:
                write_atomic(path, node + "\n")
            else:
                os.unlink(path)
        return True

    def file_path(self, name):
        """Where a file of the state directory named by a request is, or RunStateError."""
        if (not isinstance(name, str) or os.path.isabs(name) or ".." in name.split("/") or not name.strip("/") or "\0" in name
                or any(len(part.encode()) > 255 for part in name.split("/"))):
            raise RunStateError(f"files: {str(name)[:80]!r} must be a path inside the state directory "
                                f"(each name at most 255 bytes)")
        return os.path.join(self.root, name)

    def save(self, name, text, check=False):
        """Write text to a file of the state directory (e.g. runs/<run_id>.plan.json)."""
        path = self.file_path(name)
        if _read(path) == text:
            return False
        if not check:
            write_atomic(path, text)
        return True

    def files(self):
        """Every file of the state directory but the lock, as {path inside it: text}: what a
        controller copies from the host that keeps the state."""
        found = {}
        for top, dirs, names in os.walk(self.root):
            rel = os.path.relpath(top, self.root)
            if rel == LOCK or rel.startswith(LOCK + os.sep):
                dirs[:] = []
                continue
            dirs.sort()
            for name in sorted(names):
                if ".tmp." in name:
                    continue
                path = os.path.normpath(os.path.join(rel, name))
                text = _read(os.path.join(top, name))
                if text is not None:
                    found[path] = text
        return found

    def mirror(self, files):
        """Make this directory hold exactly ``files`` (as files() returns them), the lock
        aside: the controller's copy of a state kept on another host."""
        changed = False
        for name, text in files.items():
            changed |= self.save(name, text)
        for name in set(self.files()) - set(files):
            os.unlink(os.path.join(self.root, name))
            changed = True
        return changed
