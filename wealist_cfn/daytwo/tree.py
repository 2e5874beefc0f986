"""The deployed stack tree: the root and every nested stack below it, by
nested path ("" for the root, "NetworkStack", ...), and a thread pool to
ask CloudFormation about each of them at once.

boto3 clients are thread-safe (sessions are not), so the one client the
:class:`~wealist_cfn.aws.Aws` holds is shared by the workers.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, TypeVar

import botocore.exceptions

from wealist_cfn.cfn.model import NESTED

from ..aws import Aws, error_message
from ..errors import EXIT_FAILED, EXIT_USAGE, CommandError

T = TypeVar("T")
# CloudFormation throttles around a few requests a second per API; ten nested
# stacks at once stay well inside the retry budget Aws configures.
WORKERS = 10


def client_error(exc: botocore.exceptions.ClientError, doing: str) -> CommandError:
    return CommandError(f"{doing}: {error_message(exc)}", EXIT_FAILED)


def describe_root(aws: Aws, name: str) -> dict:
    """DescribeStacks of the root; a missing stack is bad input (exit 2)."""
    try:
        return aws.cfn.describe_stacks(StackName=name)["Stacks"][0]
    except botocore.exceptions.ClientError as exc:
        if "does not exist" in error_message(exc):
            raise CommandError(f"stack {name} does not exist in {aws.region}", EXIT_USAGE) from None
        raise client_error(exc, f"DescribeStacks {name}") from None


def resources(aws: Aws, stack_id: str) -> list[dict]:
    try:
        return [
            r
            for page in aws.cfn.get_paginator("list_stack_resources").paginate(StackName=stack_id)
            for r in page.get("StackResourceSummaries", [])
        ]
    except botocore.exceptions.ClientError as exc:
        raise client_error(exc, f"ListStackResources {stack_id}") from None


def stack_tree(aws: Aws, root_id: str) -> dict[str, str]:
    """``{nested path: stack ID}``, the root as ""; one ListStackResources
    per stack, each level fetched concurrently."""
    tree = {"": root_id}
    level = [("", root_id)]
    while level:
        listed = pmap(lambda item: resources(aws, item[1]), level)
        nxt = []
        for (path, _), res in zip(level, listed):
            for r in res:
                pid = r.get("PhysicalResourceId", "") or ""
                # moto's nested stack physical IDs are not ARNs; AWS's are. Either names the stack.
                if r["ResourceType"] == NESTED and pid and r.get("ResourceStatus") != "DELETE_COMPLETE":
                    child = f"{path}/{r['LogicalResourceId']}" if path else r["LogicalResourceId"]
                    tree[child] = pid
                    nxt.append((child, pid))
        level = nxt
    return tree


def pmap(fn: Callable[..., T], items) -> list[T]:
    """``[fn(x) for x in items]`` on a thread pool, results in order."""
    items = list(items)
    if len(items) <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(items))) as pool:
        return list(pool.map(fn, items))
