"""A stand-in for the CloudWatch agent's control script,
``/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl``, as the
``dnf`` stand-in installs it (Amazon Linux 2023's ``amazon-cloudwatch-agent``
package puts it there).

``-a fetch-config -m ec2 -s -c file:PATH`` (CloudWatch user guide, "Start
the CloudWatch agent using the command line"): PATH must be JSON whose
``logs.logs_collected.files.collect_list`` entries each name a
``file_path``, a ``log_group_name`` (1-512 characters of
``[.-_/#A-Za-z0-9]``, CreateLogGroup API reference) and a
``log_stream_name`` (no ``:`` or ``*``, CreateLogStream API reference),
using only the agent's placeholders (``{instance_id}``, ``{hostname}``,
``{local_hostname}``, ``{ip_address}``; "Manually create or edit the
CloudWatch agent configuration file"). A bad file fails as the agent's
translator does (non-zero exit). ``-s`` restarts the service through
``systemctl`` (recorded by its stand-in).

Like the agent, it then creates each entry's stream (``{instance_id}`` being
``$IMDS_INSTANCE_ID``) in CloudWatch Logs, here moto at
``$AWS_ENDPOINT_URL``: into an existing group only. It may not create a
group (the instance roles hold no logs:CreateLogGroup); a missing group is
an error the real agent logs and retries while running, so it is written to
``$DOCKER_STATE/cwagent-errors.log`` and the exit stays 0.
What it does not model: tailing the file and PutLogEvents.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

GROUP = re.compile(r"^[.\-_/#A-Za-z0-9]{1,512}$")
PLACEHOLDERS = {"{instance_id}", "{hostname}", "{local_hostname}", "{ip_address}"}


def _fail(message: str) -> int:
    print(f"amazon-cloudwatch-agent-ctl (stand-in): {message}", file=sys.stderr)
    return 1


def main(argv: list[str]) -> int:
    with open(os.environ["CALLS"], "a") as log:
        log.write("amazon-cloudwatch-agent-ctl " + " ".join(argv) + "\n")
    pairs = [a for a in argv if a != "-s"]
    opts = dict(zip(pairs[::2], pairs[1::2]))
    if opts.get("-a") != "fetch-config" or opts.get("-m") != "ec2" or not opts.get("-c", "").startswith("file:"):
        return _fail(f"not modelled: {' '.join(argv)}")
    path = Path(opts["-c"].removeprefix("file:"))
    try:
        config = json.loads(path.read_text())
        entries = config["logs"]["logs_collected"]["files"]["collect_list"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return _fail(f"{path}: invalid configuration ({exc!r})")
    if not entries:
        return _fail(f"{path}: collect_list is empty")
    state = Path(os.environ["DOCKER_STATE"])
    (state / "cwagent-config.json").write_text(json.dumps(config))
    targets = []
    for e in entries:
        group, stream = e.get("log_group_name", ""), e.get("log_stream_name", "")
        if not e.get("file_path") or not GROUP.match(group):
            return _fail(f"{path}: file_path or log_group_name {group!r} invalid")
        unknown = set(re.findall(r"\{[^}]*\}", stream)) - PLACEHOLDERS
        if unknown or not stream or ":" in stream or "*" in stream:
            return _fail(f"{path}: log_stream_name {stream!r} invalid")
        targets.append((group, stream.replace("{instance_id}", os.environ["IMDS_INSTANCE_ID"])))
    if "-s" in argv:
        subprocess.run(["systemctl", "restart", "amazon-cloudwatch-agent"], check=True)
    import boto3

    logs = boto3.client(
        "logs", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=os.environ.get("AWS_REGION", "ap-northeast-2")
    )
    for group, stream in targets:
        try:
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        except logs.exceptions.ResourceNotFoundException as exc:
            with open(state / "cwagent-errors.log", "a") as err:
                err.write(f"{group}/{stream}: {exc}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
