"""Small helpers the experiments' observation functions share: an API
answer without its transport metadata, an API error as data (an error can be
the evidence), and the nested stack of a root."""

from __future__ import annotations

from typing import Callable

import botocore.exceptions


def answer(resp: dict) -> dict:
    """The response as the API reference shows it: no ResponseMetadata."""
    return {k: v for k, v in resp.items() if k != "ResponseMetadata"}


def call(fn: Callable[..., dict], **kw) -> dict:
    """The answer of one read-only call, or ``{"Error": {"Code", "Message"}}``
    when the service answered with an error."""
    try:
        return answer(fn(**kw))
    except botocore.exceptions.ClientError as exc:
        err = exc.response.get("Error", {})
        return {"Error": {"Code": err.get("Code", ""), "Message": err.get("Message", "")}}


def error_code(resp: dict) -> str:
    return (resp.get("Error") or {}).get("Code", "")


def resources(cfn, stack: str) -> dict:
    """ListStackResources of a stack (its nested stacks are named by their
    stack IDs, in PhysicalResourceId)."""
    return call(cfn.list_stack_resources, StackName=stack)


def physical_id(listing: dict, logical_id: str) -> str:
    for r in listing.get("StackResourceSummaries", []):
        if r.get("LogicalResourceId") == logical_id:
            return r.get("PhysicalResourceId", "") or ""
    return ""
