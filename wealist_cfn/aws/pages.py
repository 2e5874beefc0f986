"""Every page of a paged AWS read, through botocore's own paginators, with a
bound on how many pages one read may take.

botocore ships a paginator for each of these reads (its
``paginators-1.json``: CloudFormation DescribeChangeSet, DescribeStackEvents,
DescribeEvents and ListStackResources page on ``NextToken``; the Price List
GetProducts too); ``client.get_paginator(op).paginate(**params)`` sends the
token back until the answer has none, and stops with PaginationError when an
endpoint answers the same token twice. What it does not bound is a list that
keeps going: :data:`MAX_PAGES` does, as every wait in this project is bounded.
"""

from __future__ import annotations

from typing import Iterator

from wealist_cfn.errors import EXIT_FAILED, CommandError

# More than any read here needs: a stack holds at most 500 resources
# (CloudFormation quotas, "Resources"), so one change set's Changes or one
# stack's resources fit in a few pages, and an event history this long is
# read only until the operation's start is found.
MAX_PAGES = 200


def pages(client, operation: str, *, limit: int = MAX_PAGES, **params) -> Iterator[dict]:
    """Each page of ``operation`` (a client method name, e.g.
    ``"describe_change_set"``) as the API answers it, first to last; a
    caller may stop early. More than ``limit`` pages is a one-line
    :class:`CommandError` rather than an endless read."""
    for count, page in enumerate(client.get_paginator(operation).paginate(**params), 1):
        if count > limit:
            raise CommandError(f"{operation}: still more pages after {limit}; stopped reading there", EXIT_FAILED)
        yield page


def first_and_all(client, operation: str, key: str, *, limit: int = MAX_PAGES, **params) -> tuple[dict, list]:
    """The first page (which holds the non-list fields, e.g. a change set's
    Status and Parameters) and the ``key`` lists of every page, joined."""
    first, items = None, []
    for page in pages(client, operation, limit=limit, **params):
        first = first or page
        items += page.get(key, []) or []
    return first, items
