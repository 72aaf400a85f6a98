#!/usr/bin/python
# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: snapshot
short_description: Save, restore and delete named snapshots of a node
version_added: 0.1.0
description:
  - C(state=present) saves a named snapshot under O(root) (mode 0700) of paths (files and
    directories with owner, mode and symlinks), Python venvs (the whole venv and its
    C(pip freeze)), Debian package versions, and command-based dumps such as
    C(pg_dump) with the matching restore command. A C(manifest.json) lists every item
    with its size and sha256, the host, the time and the run id.
  - Creation is atomic - the snapshot is written under a hidden name and renamed when
    complete, so a half-written snapshot is never listed. It is refused, before anything
    is written, when the free space is below the estimated size plus a margin.
  - C(state=restored) checks every sha256 first and touches nothing if one is wrong. It
    restores only the items that differ from the snapshot, keeping the current content
    aside until every item is restored, and puts it back if one fails.
  - C(state=absent) deletes the named snapshot, or with O(keep) all but the newest
    O(keep) snapshots.
author:
  - OPNFV Escalator developers (@opnfv)
extends_documentation_fragment:
  - opnfv.escalator.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: Shows the items a restore would change.
  idempotent:
    support: full
options:
  name:
    description: Name of the snapshot. Required unless O(state=absent) with O(keep).
    type: str
  state:
    description: What to do.
    type: str
    choices: [present, restored, absent]
    default: present
  root:
    description: Directory that holds the snapshots.
    type: path
    default: /var/lib/escalator/snapshots
  paths:
    description: Absolute paths of files or directories to save.
    type: list
    elements: path
    default: []
  venvs:
    description: Python virtual environments to save (a symlink to a venv is saved as a link too).
    type: list
    elements: path
    default: []
  packages:
    description: Debian packages whose installed versions are saved; a restore reinstalls those versions.
    type: list
    elements: str
    default: []
  commands:
    description: Dumps made by commands, each restored by feeding the dump to its restore command.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Name of the dump.
        type: str
        required: true
      dump:
        description: Shell command whose standard output is the dump.
        type: str
        required: true
      restore:
        description: Shell command that reads the dump on its standard input.
        type: str
        required: true
      compare_ignore:
        description:
          - Regular expression of dump lines to ignore when deciding whether the current
            data already equals the snapshot (a restore with nothing to do changes
            nothing). For C(pg_dump) 15.14 and later, which writes a random key on every
            dump, use C(^\\(un)?restrict ).
        type: str
  run_id:
    description: Run id recorded in the manifest.
    type: str
  keep:
    description: With O(state=absent), keep the newest O(keep) snapshots and delete the others.
    type: int
  min_free_margin:
    description: Bytes that must stay free beyond the snapshot's estimated size (0 to 2**60).
    type: int
    default: 67108864
  min_free_margin_percent:
    description: Extra margin, as a percentage of the estimated size (0 to 1000).
    type: int
    default: 10
"""

EXAMPLES = r"""
- name: Save Keystone's configuration, venv and database before the upgrade
  opnfv.escalator.snapshot:
    name: "{{ run_id }}-{{ inventory_hostname }}"
    run_id: "{{ run_id }}"
    paths: [/etc/keystone]
    venvs: [/opt/keystone/current]
    commands:
      - name: keystone-db
        dump: pg_dump --clean --if-exists -h 127.10.0.3 -U keystone keystone
        restore: psql -q -v ON_ERROR_STOP=1 -h 127.10.0.3 -U keystone keystone
        compare_ignore: '^\\(un)?restrict '

- name: Put everything back
  opnfv.escalator.snapshot:
    name: "{{ run_id }}-{{ inventory_hostname }}"
    state: restored

- name: Keep the last three snapshots
  opnfv.escalator.snapshot:
    state: absent
    keep: 3
"""

RETURN = r"""
snapshot:
  description: The manifest of the snapshot created, restored or found.
  returned: when O(name) is set and the snapshot exists (or would)
  type: dict
  contains:
    name: {description: Name., type: str}
    host: {description: Host it was taken on., type: str}
    created_at: {description: When it was taken (ISO 8601 in UTC)., type: str}
    run_id: {description: Run id given at creation., type: str}
    size: {description: Bytes stored., type: int}
    items:
      description: One entry per saved item, with C(type), C(source), C(file), C(size) and C(sha256).
      type: list
      elements: dict
restored:
  description: Sources of the items that were (or would be) restored.
  returned: when O(state=restored)
  type: list
  elements: str
deleted:
  description: Names of the snapshots deleted (or that would be).
  returned: when O(state=absent)
  type: list
  elements: str
space:
  description: Estimated size, bytes needed with the margin, bytes free.
  returned: when O(state=present) and a snapshot is (or would be) created
  type: dict
"""

from ansible_collections.opnfv.escalator.plugins.module_utils._arguments import Module
from ansible_collections.opnfv.escalator.plugins.module_utils._snapshot import SnapshotError, SnapshotStore


def main():
    module = Module(
        argument_spec=dict(
            name=dict(type="str"),
            state=dict(type="str", default="present", choices=["present", "restored", "absent"]),
            root=dict(type="path", default="/var/lib/escalator/snapshots"),
            paths=dict(type="list", elements="path", default=[]),
            venvs=dict(type="list", elements="path", default=[]),
            packages=dict(type="list", elements="str", default=[]),
            commands=dict(type="list", elements="dict", default=[], options=dict(
                name=dict(type="str", required=True),
                # Often hold a password (PGPASSWORD=...): never shown.
                dump=dict(type="str", required=True, no_log=True),
                restore=dict(type="str", required=True, no_log=True),
                compare_ignore=dict(type="str"),
            )),
            run_id=dict(type="str"),
            keep=dict(type="int"),
            min_free_margin=dict(type="int", default=64 * 1024 * 1024),
            min_free_margin_percent=dict(type="int", default=10),
        ),
        required_if=[("state", "present", ("name",)), ("state", "restored", ("name",))],
        required_one_of=[("name", "keep")],
        mutually_exclusive=[("name", "keep")],
        supports_check_mode=True,
    )
    p = module.params
    if p["keep"] is not None and (p["state"] != "absent" or p["keep"] < 0):
        module.fail_json(msg="keep: only with state=absent, and at least 0")
    if not 0 <= p["min_free_margin"] <= 2 ** 60:
        module.fail_json(msg=f"min_free_margin: bytes from 0 to 2**60, got {str(p['min_free_margin'])[:20]}")
    if not 0 <= p["min_free_margin_percent"] <= 1000:
        module.fail_json(msg=f"min_free_margin_percent: from 0 to 1000, got {str(p['min_free_margin_percent'])[:20]}")
    store = SnapshotStore(p["root"], module.run_command)
    try:
        if p["state"] == "present":
            result = _present(module, store, p)
        elif p["state"] == "restored":
            result = _restored(module, store, p)
        else:
            result = _absent(module, store, p)
    except (SnapshotError, OSError) as exc:
        module.fail_json(msg=f"snapshot {p['name'] or ''} ({p['state']}) on {p['root']}: {exc}")
    module.exit_json(**result)


def _present(module, store, p):
    if store.exists(p["name"]):
        return dict(changed=False, snapshot=store.manifest(p["name"]))
    for i, path in enumerate(p["paths"]):
        if not path.startswith("/"):
            module.fail_json(msg=f"paths[{i}]: {path!r} is not an absolute path")
    space = store.check_space(store.estimate(p["paths"], p["venvs"]), p["min_free_margin"],
                              p["min_free_margin_percent"])
    if module.check_mode:
        return dict(changed=True, space=space, diff=dict(before="", after=f"snapshot {p['name']}\n"))
    manifest = store.create(p["name"], p["paths"], p["venvs"], p["packages"], p["commands"], run_id=p["run_id"])
    return dict(changed=True, snapshot=manifest, space=space, diff=dict(before="", after=f"snapshot {p['name']}\n"))


def _restored(module, store, p):
    manifest, pending = store.pending(p["name"])
    sources = [it["source"] for it in pending]
    diff = dict(before="".join(f"{s}: current\n" for s in sources),
                after="".join(f"{s}: as in snapshot {p['name']}\n" for s in sources))
    if pending and not module.check_mode:
        store.restore(p["name"], pending)
    return dict(changed=bool(pending), snapshot=manifest, restored=sources, diff=diff)


def _absent(module, store, p):
    if p["keep"] is not None:
        doomed = store.to_prune(p["keep"])
    else:
        doomed = [p["name"]] if store.exists(p["name"]) else []
    if not module.check_mode:
        for name in doomed:
            store.delete(name)
    return dict(changed=bool(doomed), deleted=doomed,
                diff=dict(before="".join(f"snapshot {n}\n" for n in doomed), after=""))


if __name__ == "__main__":
    main()
