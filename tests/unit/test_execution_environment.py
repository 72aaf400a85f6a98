"""execution-environment.yml: ansible-builder validates it and writes a build context that
holds the collection, at the versions make test runs with. (No image registry is reachable
here, so the image itself is not built.)"""

import os
import pathlib
import re
import shutil
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]


def pins():
    text = (ROOT / "requirements.txt").read_text()
    return dict(re.findall(r"^(ansible-core|ansible-runner)==(\S+)$", text, re.M))


def test_ansible_builder_creates_a_build_context_with_the_collection(tmp_path):
    env = dict(os.environ, PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    shutil.copy(ROOT / "execution-environment.yml", tmp_path)
    shutil.copytree(ROOT / "ee", tmp_path / "ee", ignore=shutil.ignore_patterns("dist"))
    build = subprocess.run(["ansible-galaxy", "collection", "build", "--output-path", str(tmp_path / "ee" / "dist"),
                            str(ROOT)], env=env, capture_output=True, text=True, check=False)
    assert build.returncode == 0, build.stdout + build.stderr
    create = subprocess.run(["ansible-builder", "create", "-f", "execution-environment.yml", "-c", "context",
                             "--output-filename", "Containerfile"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert create.returncode == 0, create.stdout + create.stderr
    context = tmp_path / "context"
    containerfile = (context / "Containerfile").read_text()
    # The same ansible-core and ansible-runner as requirements.txt.
    assert f'ANSIBLE_INSTALL_REFS="ansible-core=={pins()["ansible-core"]} ansible-runner=={pins()["ansible-runner"]}"' \
        in containerfile
    (tarball,) = (context / "_build" / "escalator").glob("opnfv-escalator-*.tar.gz")
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    assert tarball.name == f"opnfv-escalator-{galaxy['version']}.tar.gz"
    assert "ansible-galaxy collection install --offline -p /usr/share/ansible/collections " \
           "/build/escalator/opnfv-escalator-*.tar.gz" in containerfile
    assert (context / "_build" / "requirements.txt").read_text() == (ROOT / "ee" / "requirements.txt").read_text()


def test_a_schema_error_is_refused_with_its_field(tmp_path):
    doc = yaml.safe_load((ROOT / "execution-environment.yml").read_text())
    doc["dependencies"]["ansible_core"] = {"package_pip": 2.19}
    (tmp_path / "execution-environment.yml").write_text(yaml.safe_dump(doc))
    env = dict(os.environ, PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    create = subprocess.run(["ansible-builder", "create", "-f", "execution-environment.yml", "-c", "context"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert create.returncode != 0 and "package_pip" in create.stdout + create.stderr
