"""Offline-friendly stand-in for the get-pip.py script that ansible-test downloads.

ansible-test creates its sanity venvs without pip and fetches a bootstrap script from a
host outside the package registries. This script does the same job with what Python
ships: ensurepip's bundled pip first, then the pip version ansible-test asks for, from
PyPI. `make sanity` puts it where ansible-test looks for its cached copy.

Arguments are the ones ansible-test passes to get-pip.py: pip options and package specs,
plus --no-setuptools / --no-wheel.
"""

import subprocess
import sys


def main():
    args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"], stdout=subprocess.DEVNULL)
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", *args])


if __name__ == "__main__":
    main()
