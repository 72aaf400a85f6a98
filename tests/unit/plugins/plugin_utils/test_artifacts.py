"""Artifacts are checked against their sha256 sums before anything is planned."""

import hashlib

import pytest

from ansible_collections.opnfv.escalator.plugins.plugin_utils._campaign import (
    CampaignError,
    check_artifacts,
    expand_env,
    validate,
)


def _sha(data):
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def wheelhouse(tmp_path):
    d = tmp_path / "wheelhouse"
    d.mkdir()
    files = {"a-1.0-py3-none-any.whl": b"alpha", "b-2.0-py3-none-any.whl": b"beta"}
    for name, data in files.items():
        (d / name).write_bytes(data)
    manifest = "".join(f"{_sha(data)}  {name}\n" for name, data in files.items())
    (d / "SHA256SUMS").write_text(manifest)
    return d, _sha(manifest.encode())


def _campaign(artifact):
    return validate({"name": "a", "components": [{
        "name": "svc", "targets": "all", "version": "1", "expected_duration": 10, "artifact": artifact}]})


def test_a_good_wheelhouse_passes(wheelhouse):
    d, sha = wheelhouse
    passed = check_artifacts(_campaign({"type": "wheelhouse", "path": str(d), "sha256": sha}))
    assert passed == [{"component": "svc", "path": str(d), "files": 2}]


def test_a_changed_manifest_is_refused(wheelhouse):
    d, sha = wheelhouse
    (d / "SHA256SUMS").write_text((d / "SHA256SUMS").read_text() + "\n")
    with pytest.raises(CampaignError) as exc:
        check_artifacts(_campaign({"type": "wheelhouse", "path": str(d), "sha256": sha}))
    ((path, message),) = exc.value.errors
    assert path == "components[0].artifact.sha256"
    assert f"the campaign expects {sha}" in message


def test_a_corrupted_wheel_is_refused(wheelhouse):
    d, sha = wheelhouse
    (d / "b-2.0-py3-none-any.whl").write_bytes(b"tampered")
    with pytest.raises(CampaignError) as exc:
        check_artifacts(_campaign({"type": "wheelhouse", "path": str(d), "sha256": sha}))
    assert exc.value.errors == [("components[0].artifact.path",
                                 "b-2.0-py3-none-any.whl does not match its sha256 in " + str(d / "SHA256SUMS"))]


def test_a_missing_wheel_is_refused(wheelhouse):
    d, sha = wheelhouse
    (d / "a-1.0-py3-none-any.whl").unlink()
    with pytest.raises(CampaignError, match="a-1.0-py3-none-any.whl is listed in .* but missing"):
        check_artifacts(_campaign({"type": "wheelhouse", "path": str(d), "sha256": sha}))


def test_a_manifest_may_not_point_outside(tmp_path):
    d = tmp_path / "w"
    d.mkdir()
    (tmp_path / "secret").write_text("x")
    manifest = f"{_sha(b'x')}  ../secret\n"
    (d / "SHA256SUMS").write_text(manifest)
    with pytest.raises(CampaignError, match="names a file outside the artifact"):
        check_artifacts(_campaign({"type": "wheelhouse", "path": str(d), "sha256": _sha(manifest.encode())}))


def test_a_missing_artifact_is_named(tmp_path):
    with pytest.raises(CampaignError) as exc:
        check_artifacts(_campaign({"type": "file", "path": str(tmp_path / "nope.tar"), "sha256": "a" * 64}))
    assert exc.value.errors == [("components[0].artifact.path", f"file {tmp_path / 'nope.tar'} does not exist")]


def test_relative_paths_start_at_the_campaign(tmp_path):
    (tmp_path / "pkg.tar").write_bytes(b"data")
    campaign = validate({"name": "a", "components": [{
        "name": "svc", "targets": "all", "version": "1", "expected_duration": 10,
        "artifact": {"type": "file", "path": "pkg.tar", "sha256": _sha(b"data")}}]}, base_dir=str(tmp_path))
    assert check_artifacts(campaign)[0]["path"] == str(tmp_path / "pkg.tar")


def test_package_artifacts_are_not_checked_here():
    assert check_artifacts(_campaign({"type": "package", "name": "nova-compute"})) == []


@pytest.mark.parametrize("text, expected", [
    ("${CACHE}/a", "/c/a"),
    ("${MISSING:-/var/cache}/a", "/var/cache/a"),
    ("${CACHE:-/other}/a", "/c/a"),
    ("${MISSING}/a", "${MISSING}/a"),
    ("/plain/path", "/plain/path"),
])
def test_environment_in_paths(text, expected):
    assert expand_env(text, {"CACHE": "/c"}) == expected
