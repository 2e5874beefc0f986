"""A paginator for the fakes that stand in for a boto3 client.

The product reads paged answers through ``client.get_paginator(op)``
(wealist_cfn/aws/pages.py). botocore's PageIterator sends the answer's
``NextToken`` back as the next request's ``NextToken`` until an answer has
none: the input and output token of every CloudFormation and Price List
operation the product pages (botocore/data/cloudformation/2010-05-15/
paginators-1.json, pricing/2017-10-15/paginators-1.json). A fake client's
``get_paginator`` hands out :class:`FakePaginator` over its own method, so a
fake that answers the plain call answers the paged read the same way.
"""

from __future__ import annotations

from typing import Callable, Iterator

# botocore stops a paginator that is answered the same token twice
# (PaginationError); so does this one, and a fake that pages forever is
# stopped by the product's own page bound first.
_SAME_TOKEN = "the fake answered the same NextToken twice"


class FakePaginator:
    def __init__(self, method: Callable[..., dict]):
        self.method = method

    def paginate(self, **params) -> Iterator[dict]:
        token, seen = None, set()
        while True:
            page = self.method(**params, **({"NextToken": token} if token else {}))
            yield page
            token = page.get("NextToken")
            if not token:
                return
            if token in seen:
                raise RuntimeError(_SAME_TOKEN)
            seen.add(token)


def paginator_of(client) -> Callable[[str], FakePaginator]:
    """``client.get_paginator`` for a fake ``client``."""
    return lambda operation: FakePaginator(getattr(client, operation))
