"""A `curl` stand-in for the boot scripts: only the instance metadata
service (IMDS) answers, and only as IMDSv2 does when the launch template
sets ``HttpTokens: required`` (compute.py):

* ``PUT /latest/api/token`` with ``X-aws-ec2-metadata-token-ttl-seconds``
  between 1 and 21600 returns a session token;
* ``GET /latest/meta-data/<path>`` needs ``X-aws-ec2-metadata-token`` with
  that token; without it IMDS answers 401 and ``curl -f`` exits 22
  (EC2 user guide, "Use the Instance Metadata Service to access instance
  metadata": IMDSv2 session tokens).

Every other URL fails with exit 22, as a download would where none is
expected (UserData finds Compose installed and must not download it).
Every call is appended to ``$CALLS``; the instance ID answered is
``$IMDS_INSTANCE_ID``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

IMDS = "http://169.254.169.254"


def main(argv: list[str]) -> int:
    with open(os.environ["CALLS"], "a") as log:
        log.write("curl " + " ".join(argv) + "\n")
    method, headers, url, i = "GET", {}, None, 0
    while i < len(argv):
        a = argv[i]
        if a in ("-X", "--request"):
            method, i = argv[i + 1], i + 2
        elif a in ("-H", "--header"):
            name, _, value = argv[i + 1].partition(":")
            headers[name.strip().lower()] = value.strip()
            i += 2
        elif a in ("-m", "--max-time", "-o", "--output"):
            i += 2
        elif a.startswith("-"):
            i += 1
        else:
            url, i = a, i + 1
    token_file = Path(os.environ["CALLS"]).parent / "imds-token"
    if url == f"{IMDS}/latest/api/token" and method == "PUT":
        ttl = headers.get("x-aws-ec2-metadata-token-ttl-seconds", "")
        if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            print("curl: (22) The requested URL returned error: 400", file=sys.stderr)
            return 22
        token_file.write_text("AQAEAStandInToken==")
        sys.stdout.write("AQAEAStandInToken==")
        return 0
    if url == f"{IMDS}/latest/meta-data/instance-id" and method == "GET":
        if not token_file.exists() or headers.get("x-aws-ec2-metadata-token") != token_file.read_text():
            print("curl: (22) The requested URL returned error: 401", file=sys.stderr)
            return 22
        sys.stdout.write(os.environ["IMDS_INSTANCE_ID"])
        return 0
    print(f"curl: (22) The requested URL returned error: 404 ({url})", file=sys.stderr)
    return 22


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
