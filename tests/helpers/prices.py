"""A Price List GetProducts product, shaped like the Price List API's answer."""

from __future__ import annotations

import json


def _product(sku: str, usagetype: str, usd: str, unit: str = "Hrs", tiers: tuple = ()) -> str:
    dims = {
        f"{sku}.T.R{i}": {
            "unit": unit,
            "beginRange": begin,
            "endRange": "Inf",
            "description": "",
            "rateCode": f"{sku}.T.R{i}",
            "appliesTo": [],
            "pricePerUnit": {"USD": price},
        }
        for i, (begin, price) in enumerate(tiers or (("0", usd),))
    }
    return json.dumps(
        {
            "product": {"productFamily": "x", "sku": sku, "attributes": {"usagetype": usagetype}},
            "serviceCode": "AmazonEC2",
            "publicationDate": "2026-11-01T00:00:00Z",
            "version": "1",
            "terms": {
                "OnDemand": {
                    f"{sku}.T": {
                        "offerTermCode": "T",
                        "sku": sku,
                        "effectiveDate": "2026-11-01T00:00:00Z",
                        "termAttributes": {},
                        "priceDimensions": dims,
                    }
                }
            },
        }
    )
