"""``python -m wealist_cfn`` and the ``wealist-cfn`` console script.

``--project-dir DIR`` is taken from the command line before anything else
is imported: every path of the project (params/, templates/, the caches)
is fixed when :mod:`wealist_cfn.core.settings` is first imported.
"""

from __future__ import annotations

import os
import sys


def _take_project_dir(argv: list[str]) -> list[str]:
    rest, i = [], 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest.extend(argv[i:])
            break
        if arg == "--project-dir" or arg.startswith("--project-dir="):
            value = arg.partition("=")[2] if "=" in arg else (argv[i + 1] if i + 1 < len(argv) else "")
            if not value or not os.path.isdir(value):
                sys.stderr.write(f"error: --project-dir: {value or '(missing)'} is not a folder\n")
                sys.exit(2)  # errors.EXIT_USAGE; nothing is imported yet
            os.environ["WEALIST_CFN_PROJECT_DIR"] = os.path.abspath(value)
            i += 1 if "=" in arg else 2
            continue
        rest.append(arg)
        i += 1
    return rest


def main() -> int:
    sys.argv[1:] = _take_project_dir(sys.argv[1:])
    from .cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
