#!/usr/bin/env python3
"""Build, lint, package and deploy the Wealist CloudFormation templates.

`python build.py --help` lists the commands.
"""

import sys

from wealist_cfn.cli import main

if __name__ == "__main__":
    sys.exit(main())
