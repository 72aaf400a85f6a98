# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Named snapshots of a node's files, venvs, package versions and database dumps.

Private to the opnfv.escalator collection. A snapshot lives in ``<root>/<name>/``: a
``manifest.json`` and one file per item, each with its sha256. It is written under a
hidden temporary name and renamed when complete, so a half-written snapshot is never
listed. A restore checks every sha256 before it touches anything, moves the current
content aside, and puts it back if any item fails.

Commands run through ``run(argv) -> (rc, stdout, stderr)`` so tests can replace it.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import shutil
import socket
import tarfile

from ansible_collections.opnfv.escalator.plugins.module_utils._files import sha256_of

MANIFEST = "manifest.json"
FORMAT = 1
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_SKIP_DIRS = frozenset({"__pycache__"})
_EXTRACT = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}


class SnapshotError(Exception):
    """What went wrong, in words an operator can act on."""


def shell_to(command, redirect, path):
    """argv running a campaign's shell command with its whole output to (>) or input from (<)
    path. The path is the shell's $1, never part of the command text, so no character in it
    (a quote, a space, a ';') can change what runs."""
    return ["/bin/sh", "-c", f"{{ {command}\n}} {redirect} \"$1\"", "escalator-snapshot", path]


def tree_digest(path):
    """A digest of a file tree: names, types, modes, owners, link targets and contents.

    Two trees with the same digest are the same as far as a restore is concerned; it is
    how a restore knows it has nothing to do. Python's bytecode caches are left out:
    any run of the venv's Python rewrites them.
    """
    h = hashlib.sha256()
    if not os.path.lexists(path):
        return "absent"

    def entry(p, rel):
        st = os.lstat(p)
        h.update(f"{rel}\0{st.st_mode}\0{st.st_uid}\0{st.st_gid}\0".encode())
        if os.path.islink(p):
            h.update(b"L" + os.readlink(p).encode())
        elif os.path.isfile(p):
            h.update(b"F" + sha256_of(p).encode())

    entry(path, ".")
    if os.path.isdir(path) and not os.path.islink(path):
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
            for name in sorted(dirnames + filenames):
                full = os.path.join(dirpath, name)
                entry(full, os.path.relpath(full, path))
    return h.hexdigest()


def tree_size(path):
    if not os.path.lexists(path):
        return 0
    if not os.path.isdir(path) or os.path.islink(path):
        return os.lstat(path).st_size
    total = 0
    for dirpath, dirnames, filenames in os.walk(path):
        for name in filenames:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def _free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def _human(n):
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024.0
    return f"{n} B"  # pragma: no cover


class SnapshotStore:
    def __init__(self, root, run, host=None):
        self.root = root
        self.run = run
        self.host = host or socket.gethostname()

    # -- listing ---------------------------------------------------------------
    def _dir(self, name):
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise SnapshotError(f"name: {name!r} is not a valid snapshot name "
                                "(letters, digits, '.', '_', '-', starting with a letter or digit)")
        return os.path.join(self.root, name)

    def exists(self, name):
        return os.path.isfile(os.path.join(self._dir(name), MANIFEST))

    def manifest(self, name):
        path = os.path.join(self._dir(name), MANIFEST)
        try:
            with open(path, encoding="utf-8") as fh:
                return json.load(fh)
        except FileNotFoundError:
            raise SnapshotError(f"no snapshot named {name!r} under {self.root}") from None
        except ValueError as exc:
            raise SnapshotError(f"the manifest of snapshot {name!r} is unreadable: {exc}") from exc

    def list(self):
        """Manifests of the complete snapshots, oldest first. Hidden (partial) ones are not listed."""
        if not os.path.isdir(self.root):
            return []
        out = []
        for entry in sorted(os.listdir(self.root)):
            if entry.startswith(".") or not os.path.isfile(os.path.join(self.root, entry, MANIFEST)):
                continue
            try:
                out.append(self.manifest(entry))
            except SnapshotError:
                continue
        return sorted(out, key=lambda m: (m.get("created_at", ""), m.get("name", "")))

    # -- create ----------------------------------------------------------------
    def estimate(self, paths, venvs, previous_dump_bytes=0):
        return sum(tree_size(p) for p in paths) + sum(tree_size(os.path.realpath(v)) for v in venvs) \
            + previous_dump_bytes

    def check_space(self, estimate, margin_bytes, margin_percent):
        need = estimate + margin_bytes + estimate * margin_percent // 100
        probe = self.root
        while not os.path.exists(probe):
            probe = os.path.dirname(probe) or "/"
        free = _free_bytes(probe)
        if free < need:
            raise SnapshotError(
                f"not enough free space under {self.root}: the snapshot needs about {_human(need)} "
                f"({_human(estimate)} estimated plus margin), {_human(free)} is free; free some space "
                f"or remove old snapshots (state=absent, keep=N)")
        return {"estimate_bytes": estimate, "needed_bytes": need, "free_bytes": free}

    def create(self, name, paths=(), venvs=(), packages=(), commands=(), run_id=None, now=None):
        """Write the snapshot; return its manifest. The caller checked space and existence."""
        final = self._dir(name)
        made = _missing_directories(self.root)  # taken away again if the snapshot fails
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        os.chmod(self.root, 0o700)
        tmp = os.path.join(self.root, f".partial-{name}-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp, mode=0o700)
        try:
            items = []
            for i, path in enumerate(paths):
                items.append(self._save_path(tmp, f"path-{i}.tar", path, "path"))
            for i, venv in enumerate(venvs):
                items.append(self._save_venv(tmp, i, venv))
            if packages:
                items.append(self._save_packages(tmp, packages))
            for i, cmd in enumerate(commands):
                items.append(self._save_command(tmp, i, cmd))
            manifest = {
                "format": FORMAT, "name": name, "host": self.host, "run_id": run_id,
                "created_at": (now or datetime.datetime.now(datetime.timezone.utc)).isoformat(timespec="seconds"),
                "items": items, "size": sum(it["size"] for it in items),
            }
            with open(os.path.join(tmp, MANIFEST), "w", encoding="utf-8") as fh:
                json.dump(manifest, fh, indent=2, sort_keys=True)
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            for directory in made:  # deepest first; only what is still empty
                try:
                    os.rmdir(directory)
                except OSError:
                    break
            raise
        return manifest

    def _item(self, directory, filename, **fields):
        full = os.path.join(directory, filename)
        return dict(fields, file=filename, size=os.path.getsize(full), sha256=sha256_of(full))

    def _save_path(self, directory, filename, path, kind):
        if not path.startswith("/"):
            raise SnapshotError(f"paths: {path!r} is not an absolute path")
        if not os.path.lexists(path):
            # Restoring an absent path means removing it again.
            open(os.path.join(directory, filename), "wb").close()
            return self._item(directory, filename, type=kind, source=path, absent=True, tree="absent")
        with tarfile.open(os.path.join(directory, filename), "w") as tar:
            tar.add(path, arcname=os.path.basename(path.rstrip("/")) or ".", recursive=True,
                    filter=lambda info: None if os.path.basename(info.name) in _SKIP_DIRS else info)
        return self._item(directory, filename, type=kind, source=path, absent=False, tree=tree_digest(path))

    def _save_venv(self, directory, i, venv):
        real = os.path.realpath(venv)
        if not os.path.isfile(os.path.join(real, "bin", "python")):
            raise SnapshotError(f"venvs: {venv} is not a Python virtual environment (no bin/python)")
        freeze = self._freeze(real)
        with open(os.path.join(directory, f"venv-{i}.freeze"), "w", encoding="utf-8") as fh:
            fh.write(freeze)
        item = self._save_path(directory, f"venv-{i}.tar", real, "venv")
        item.update(source=venv, real=real, link=os.readlink(venv) if os.path.islink(venv) else None,
                    freeze_file=f"venv-{i}.freeze", freeze_sha256=sha256_of(os.path.join(directory, f"venv-{i}.freeze")))
        return item

    def _freeze(self, real):
        rc, out, err = self.run([os.path.join(real, "bin", "python"), "-m", "pip", "freeze", "--all"])
        if rc != 0:
            raise SnapshotError(f"venvs: pip freeze failed in {real}: {err.strip()[:300]}")
        return out

    def _dpkg_versions(self, packages):
        rc, out, err = self.run(["dpkg-query", "-W", "-f=${Package}\t${Version}\n", *packages])
        if rc not in (0, 1) or not out.strip():
            raise SnapshotError(f"packages: cannot read installed versions: {err.strip()[:300]}")
        return dict(line.split("\t", 1) for line in out.strip().splitlines() if "\t" in line)

    def _save_packages(self, directory, packages):
        versions = self._dpkg_versions(packages)
        missing = [p for p in packages if not versions.get(p)]
        if missing:
            raise SnapshotError(f"packages: not installed: {', '.join(missing)}")
        with open(os.path.join(directory, "packages.json"), "w", encoding="utf-8") as fh:
            json.dump(versions, fh, indent=2, sort_keys=True)
        return self._item(directory, "packages.json", type="packages", source=",".join(packages))

    def _save_command(self, directory, i, cmd):
        filename = f"dump-{i}.out"
        out = os.path.join(directory, filename)
        rc, dummy, err = self.run(shell_to(cmd["dump"], ">", out))
        if rc != 0:
            raise SnapshotError(f"commands[{i}] ({cmd['name']}): the dump command failed with exit code {rc}: "
                                f"{err.strip()[:300]}")
        ignore = cmd.get("compare_ignore")
        return self._item(directory, filename, type="command", source=cmd["name"], dump=cmd["dump"],
                          restore=cmd["restore"], compare_ignore=ignore, compare_sha256=_compare_digest(out, ignore))

    # -- verify and restore ----------------------------------------------------
    def verify(self, name):
        """Check every item's sha256; raise naming every bad file, touching nothing."""
        manifest = self.manifest(name)
        base = self._dir(name)
        bad = []
        for it in manifest["items"]:
            files = [(it["file"], it["sha256"])]
            if it.get("freeze_file"):
                files.append((it["freeze_file"], it["freeze_sha256"]))
            for filename, expected in files:
                full = os.path.join(base, filename)
                if not os.path.isfile(full):
                    bad.append(f"{filename} is missing")
                elif sha256_of(full) != expected:
                    bad.append(f"{filename} does not match its sha256")
        if bad:
            raise SnapshotError(f"snapshot {name!r} is damaged, nothing was restored: " + "; ".join(bad))
        return manifest

    def pending(self, name):
        """Items whose current state differs from the snapshot (what a restore would change)."""
        manifest = self.verify(name)
        return manifest, [it for it in manifest["items"] if self._differs(name, it)]

    def _differs(self, name, it):
        kind = it["type"]
        if kind == "path":
            return tree_digest(it["source"]) != it["tree"]
        if kind == "venv":
            link_now = os.readlink(it["source"]) if os.path.islink(it["source"]) else None
            return link_now != it["link"] or tree_digest(it["real"]) != it["tree"]
        if kind == "packages":
            with open(os.path.join(self._dir(name), it["file"]), encoding="utf-8") as fh:
                saved = json.load(fh)
            return self._dpkg_versions(list(saved)) != saved
        # A dump is compared by dumping again: the only way to know the data is the same.
        probe = os.path.join(self.root, f".probe-{name}-{os.getpid()}")
        try:
            rc, dummy, err = self.run(shell_to(it["dump"], ">", probe))
            return rc != 0 or _compare_digest(probe, it.get("compare_ignore")) != it["compare_sha256"]
        finally:
            if os.path.exists(probe):
                os.unlink(probe)

    def restore(self, name, items):
        """Restore the given (pending) items; on any failure put everything back and raise."""
        base = self._dir(name)
        done = []  # (item, aside path or None) for file items already swapped in
        try:
            for it in items:
                if it["type"] in ("path", "venv"):
                    done.append((it, self._restore_tree(base, it)))
                elif it["type"] == "packages":
                    self._restore_packages(base, it)
                else:
                    self._restore_command(base, it)
        except BaseException as exc:
            for it, aside in reversed(done):
                target = it["real"] if it["type"] == "venv" else it["source"]
                _remove(target)
                if aside:
                    os.rename(aside, target)
            if isinstance(exc, SnapshotError):
                raise
            raise SnapshotError(f"restoring snapshot {name!r} failed ({exc}); the previous content was put back") from exc
        for dummy, aside in done:
            if aside:
                _remove(aside)

    def _restore_tree(self, base, it):
        target = it["real"] if it["type"] == "venv" else it["source"]
        aside = None
        if os.path.lexists(target):
            aside = f"{target}.escalator-aside"
            _remove(aside)
            os.rename(target, aside)
        if not it["absent"]:
            parent = os.path.dirname(target.rstrip("/"))
            os.makedirs(parent, exist_ok=True)
            with tarfile.open(os.path.join(base, it["file"])) as tar:
                tar.extractall(parent, numeric_owner=True, **_EXTRACT)
        if it["type"] == "venv" and it["link"] is not None:
            tmp_link = f"{it['source']}.escalator-link"
            _remove(tmp_link)
            os.symlink(it["link"], tmp_link)
            os.replace(tmp_link, it["source"])
        return aside

    def _restore_packages(self, base, it):
        with open(os.path.join(base, it["file"]), encoding="utf-8") as fh:
            saved = json.load(fh)
        now = self._dpkg_versions(list(saved))
        wanted = [f"{p}={v}" for p, v in sorted(saved.items()) if now.get(p) != v]
        if wanted:
            rc, dummy, err = self.run(["apt-get", "install", "-y", "-q", "--allow-downgrades", *wanted])
            if rc != 0:
                raise SnapshotError(f"packages: apt-get could not install {' '.join(wanted)}: {err.strip()[:300]}")

    def _restore_command(self, base, it):
        rc, dummy, err = self.run(shell_to(it["restore"], "<", os.path.join(base, it["file"])))
        if rc != 0:
            raise SnapshotError(f"commands ({it['source']}): the restore command failed with exit code {rc}: "
                                f"{err.strip()[:300]}")

    # -- delete ----------------------------------------------------------------
    def delete(self, name):
        _remove(self._dir(name))

    def to_prune(self, keep):
        """Names of the snapshots beyond the newest ``keep``."""
        names = [m["name"] for m in self.list()]
        return names[:-keep] if keep else names


def _compare_digest(path, ignore):
    """sha256 of a dump without the lines matching ``ignore`` (parts that differ on every
    dump, like the random key pg_dump writes in its \\restrict line)."""
    if not ignore:
        return sha256_of(path)
    regex = re.compile(ignore)
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for line in fh:
            if not regex.search(line.decode(errors="replace")):
                h.update(line)
    return h.hexdigest()


def _remove(path):
    if os.path.islink(path) or os.path.isfile(path):
        os.unlink(path)
    elif os.path.isdir(path):
        shutil.rmtree(path)


def _missing_directories(path):
    """The directories os.makedirs(path) would create, deepest first."""
    missing = []
    path = os.path.abspath(path)
    while not os.path.exists(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return missing
