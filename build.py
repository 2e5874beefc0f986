#!/usr/bin/env python3
"""Build, lint, package and deploy the Wealist CloudFormation templates.

`python build.py --help` lists the commands. Run it with the project's
virtualenv, `.venv/bin/python build.py`, which `make build` creates.
"""

import os
import sys

# The runtime dependencies (requirements.txt) by import name. Checked before
# anything imports them, so a Python without them gets one line, not a traceback.
REQUIRED = ("troposphere", "awacs", "cfnlint", "boto3", "botocore", "yaml")


def _missing():
    import importlib.util

    return [name for name in REQUIRED if importlib.util.find_spec(name) is None]


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    if sys.version_info < (3, 11) or _missing():
        import shlex

        args = "".join(" " + shlex.quote(arg) for arg in sys.argv[1:])
        sys.stderr.write(f"dependencies missing: run `make build`, then `.venv/bin/python build.py{args}`\n")
        sys.exit(2)  # errors.EXIT_USAGE, not importable without the dependencies
    sys.path.insert(0, here)

    from wealist_cfn.__main__ import main

    sys.exit(main())
