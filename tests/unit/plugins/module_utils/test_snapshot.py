"""Snapshots on a real file system (tmp_path); commands through a real shell."""

import json
import os
import subprocess

import pytest

from ansible_collections.opnfv.escalator.plugins.module_utils._snapshot import SnapshotError, SnapshotStore, tree_digest


def shell(argv):
    p = subprocess.run(argv, capture_output=True, text=True, check=False)
    return p.returncode, p.stdout, p.stderr


@pytest.fixture
def tree(tmp_path):
    etc = tmp_path / "etc" / "svc"
    etc.mkdir(parents=True)
    (etc / "svc.conf").write_text("a = 1\n")
    (etc / "secret").write_text("key\n")
    os.chmod(etc / "secret", 0o600)
    os.symlink("svc.conf", etc / "current.conf")
    db = tmp_path / "db.txt"
    db.write_text("row1\nrow2\n")
    store = SnapshotStore(str(tmp_path / "snapshots"), shell, host="node1")
    cmd = {"name": "db", "dump": f"cat {db}", "restore": f"cat > {db}"}
    return store, etc, db, cmd


def test_create_lists_and_is_private(tree):
    store, etc, db, cmd = tree
    m = store.create("s1", paths=[str(etc)], commands=[cmd], run_id="r1")
    assert m["name"] == "s1" and m["host"] == "node1" and m["run_id"] == "r1"
    assert [it["type"] for it in m["items"]] == ["path", "command"]
    assert all(len(it["sha256"]) == 64 and it["size"] > 0 for it in m["items"])
    assert oct(os.stat(store.root).st_mode & 0o777) == "0o700"
    assert [x["name"] for x in store.list()] == ["s1"]
    assert store.exists("s1") and not store.exists("s2")


def test_partial_snapshots_are_never_listed(tree):
    store, etc, db, cmd = tree
    broken = dict(cmd, dump="exit 3")
    with pytest.raises(SnapshotError, match=r"commands\[0\] \(db\): the dump command failed with exit code 3"):
        store.create("s1", paths=[str(etc)], commands=[broken])
    # The store's directory, made by this snapshot, is taken away with it; one that was
    # there before is left, empty.
    assert store.list() == [] and not os.path.exists(store.root)
    os.makedirs(store.root)
    with pytest.raises(SnapshotError):
        store.create("s1", paths=[str(etc)], commands=[broken])
    assert os.listdir(store.root) == []


def test_restore_brings_back_content_modes_links_and_data(tree):
    store, etc, db, cmd = tree
    before = tree_digest(str(etc))
    store.create("s1", paths=[str(etc)], commands=[cmd])
    (etc / "svc.conf").write_text("a = 2\n")
    (etc / "new").write_text("x")
    os.chmod(etc / "secret", 0o644)
    os.unlink(etc / "current.conf")
    db.write_text("row1\n")
    manifest, pending = store.pending("s1")
    assert [it["type"] for it in pending] == ["path", "command"]
    store.restore("s1", pending)
    assert tree_digest(str(etc)) == before
    assert os.readlink(etc / "current.conf") == "svc.conf"
    assert not (etc / "new").exists()
    assert db.read_text() == "row1\nrow2\n"
    assert store.pending("s1")[1] == []  # a second restore has nothing to do
    assert not list(etc.parent.glob("*.escalator-aside"))


def test_a_corrupted_snapshot_is_refused_and_nothing_is_touched(tree):
    store, etc, db, cmd = tree
    store.create("s1", paths=[str(etc)], commands=[cmd])
    (etc / "svc.conf").write_text("changed\n")
    dump = os.path.join(store.root, "s1", "dump-0.out")
    with open(dump, "a", encoding="utf-8") as fh:
        fh.write("tampered\n")
    with pytest.raises(SnapshotError, match="snapshot 's1' is damaged, nothing was restored: dump-0.out does not match"):
        store.pending("s1")
    assert (etc / "svc.conf").read_text() == "changed\n"


def test_a_failing_item_puts_everything_back(tree):
    store, etc, db, cmd = tree
    store.create("s1", paths=[str(etc)], commands=[dict(cmd, restore="exit 4")])
    (etc / "svc.conf").write_text("current\n")
    db.write_text("current db\n")
    manifest, pending = store.pending("s1")
    with pytest.raises(SnapshotError, match="the restore command failed with exit code 4"):
        store.restore("s1", pending)
    assert (etc / "svc.conf").read_text() == "current\n"  # the path item was rolled back
    assert not list(etc.parent.glob("*.escalator-aside"))


def test_venv_snapshot_keeps_the_link_and_the_freeze(tmp_path):
    venvs = tmp_path / "opt"
    for v in ("1.0", "2.0"):
        (venvs / v / "bin").mkdir(parents=True)
        (venvs / v / "bin" / "python").write_text("#!/bin/sh\necho pkg==%s\n" % v)
        os.chmod(venvs / v / "bin" / "python", 0o755)
    os.symlink(str(venvs / "1.0"), venvs / "current")

    def run(argv):
        return shell([argv[0]])  # the fake python prints its freeze

    store = SnapshotStore(str(tmp_path / "snaps"), run)
    m = store.create("v", venvs=[str(venvs / "current")])
    item = m["items"][0]
    assert item["real"] == str(venvs / "1.0") and item["link"] == str(venvs / "1.0")
    with open(os.path.join(store.root, "v", item["freeze_file"]), encoding="utf-8") as fh:
        assert fh.read() == "pkg==1.0\n"
    os.unlink(venvs / "current")
    os.symlink(str(venvs / "2.0"), venvs / "current")
    store.restore("v", store.pending("v")[1])
    assert os.readlink(venvs / "current") == str(venvs / "1.0")
    assert store.pending("v")[1] == []


def test_absent_paths_are_removed_on_restore(tmp_path):
    store = SnapshotStore(str(tmp_path / "s"), shell)
    target = tmp_path / "later"
    store.create("a", paths=[str(target)])
    target.write_text("created after the snapshot")
    store.restore("a", store.pending("a")[1])
    assert not target.exists()


def test_space_check_refuses_with_both_numbers(tree):
    store, etc, db, cmd = tree
    with pytest.raises(SnapshotError, match=r"needs about .* is free; free some space"):
        store.check_space(store.estimate([str(etc)], []), margin_bytes=10**18, margin_percent=10)
    assert not os.path.exists(store.root)  # nothing written


def test_keep_prunes_the_oldest(tree):
    store, etc, db, cmd = tree
    import datetime
    for i in range(4):
        store.create(f"s{i}", paths=[str(etc)], now=datetime.datetime(2026, 1, 1, 0, i, tzinfo=datetime.timezone.utc))
    assert store.to_prune(2) == ["s0", "s1"]
    for name in store.to_prune(2):
        store.delete(name)
    assert [m["name"] for m in store.list()] == ["s2", "s3"]


@pytest.mark.parametrize("name", ["../x", "", ".hidden", "a/b"])
def test_bad_names_are_refused(tree, name):
    store = tree[0]
    with pytest.raises(SnapshotError, match="is not a valid snapshot name"):
        store.exists(name)


def test_manifest_is_json_with_every_item(tree):
    store, etc, db, cmd = tree
    store.create("s1", paths=[str(etc), str(db)])
    with open(os.path.join(store.root, "s1", "manifest.json"), encoding="utf-8") as fh:
        data = json.load(fh)
    assert [it["source"] for it in data["items"]] == [str(etc), str(db)]


def test_a_dump_path_with_shell_characters_runs_nothing_but_the_command(tmp_path):
    """The snapshot root is an option: quotes, ';' and '$(...)' in it stay part of the path."""
    import subprocess

    from ansible_collections.opnfv.escalator.plugins.module_utils._snapshot import shell_to

    marker = tmp_path / "pwned"
    weird = tmp_path / "a'b; touch pwned; $(touch pwned) `touch pwned` c"
    weird.mkdir()
    out = weird / "dump.out"
    proc = subprocess.run(shell_to("echo one; echo two", ">", str(out)), capture_output=True, text=True,
                          check=False, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == "one\ntwo\n"  # the whole command's output, not only the last part
    proc = subprocess.run(shell_to("cat", "<", str(out)), capture_output=True, text=True, check=False, cwd=tmp_path)
    assert proc.stdout == "one\ntwo\n"
    assert not marker.exists()
