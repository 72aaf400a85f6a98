"""The collection as users get it: built, installed into a collections path, and run as
opnfv.escalator.plan and opnfv.escalator.upgrade from another directory. Nothing is
written inside the installed collection: plans and run state go to the state directory.
"""

import os
import pathlib
import subprocess
import sys

import cloud

ROOT = pathlib.Path(__file__).resolve().parents[3]


def files_under(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def test_built_and_installed_it_plans_and_upgrades_from_another_directory(tmp_path):
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", HOME=str(tmp_path / "home"),
               PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    env.pop("ANSIBLE_CONFIG", None)
    env.pop("ESCALATOR_STATE_DIR", None)
    build = subprocess.run(["ansible-galaxy", "collection", "build", "--output-path", str(tmp_path / "dist"), str(ROOT)],
                           env=env, capture_output=True, text=True, check=False, cwd=tmp_path)
    assert build.returncode == 0, build.stdout + build.stderr
    (tarball,) = (tmp_path / "dist").glob("opnfv-escalator-*.tar.gz")
    collections = tmp_path / "collections"
    install = subprocess.run(["ansible-galaxy", "collection", "install", "--offline", "-p", str(collections),
                              str(tarball)], env=env, capture_output=True, text=True, check=False, cwd=tmp_path)
    assert install.returncode == 0, install.stdout + install.stderr
    installed = collections / "ansible_collections" / "opnfv" / "escalator"
    assert not (installed / "lab").exists() and not (installed / "tests" / "integration").exists()
    before = files_under(installed)

    root = cloud.build(tmp_path / "site", names=("keystone",))
    env["ANSIBLE_COLLECTIONS_PATH"] = str(collections)
    for playbook in ("opnfv.escalator.plan", "opnfv.escalator.upgrade"):
        proc = subprocess.run(["ansible-playbook", "-i", str(root / "hosts.yml"), playbook], env=env,
                              capture_output=True, text=True, check=False, cwd=root)
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr
    assert files_under(installed) == before
    state = tmp_path / "home" / ".local" / "state" / "escalator"
    assert (state / "plan.json").exists()
    assert len(list((state / "runs").glob("*.report.json"))) == 1
    assert {v.read_text().strip() for v in (root / "hosts").glob("*/keystone.version")} == {"2.0"}
