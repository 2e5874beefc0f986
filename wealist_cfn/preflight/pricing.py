"""``cost --refresh``: rebuild ``prices/<region>.json`` from the AWS Price
List API (the ``pricing`` client, GetProducts), one query per price key.

Each key maps to a service code and GetProducts filters (``TERM_MATCH``
on product attributes, as the API reference's example does); the first
on-demand price dimension of the matching product is the price, recorded
with its unit, today's date and the product's SKU and usage type, so the
file names the exact Price List product every figure came from.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Callable, Iterator

from wealist_cfn.aws import pages

from ..errors import EXIT_FAILED, CommandError
from . import cost

# The Price List API answers in us-east-1, eu-central-1 and ap-south-1 only
# (https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/using-price-list-query-api.html).
PRICING_REGION = "us-east-1"


# Keys the Price List cannot answer by one product: kept as they are by a refresh.
NO_QUERY = {
    "cloudwatch:detailed-monitoring": "the Price List prices CloudWatch per metric, not per instance",
    "kms:key": "no Price List query is mapped for KMS keys yet",
}


def _filters(**attrs: str) -> list[dict]:
    return [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in attrs.items()]


def query_for(key: str, region: str) -> tuple[str, list[dict], str]:
    """(service code, filters, usage-type suffix the product must end with or "")."""
    kind, _, rest = key.partition(":")
    if kind == "ec2":
        return (
            "AmazonEC2",
            _filters(
                regionCode=region,
                instanceType=rest,
                operatingSystem="Linux",
                tenancy="Shared",
                preInstalledSw="NA",
                capacitystatus="Used",
                licenseModel="No License required",
            ),
            "",
        )
    if kind == "ebs":
        return "AmazonEC2", _filters(regionCode=region, productFamily="Storage", volumeApiName=rest), ""
    if kind == "nat":
        return (
            "AmazonEC2",
            _filters(regionCode=region, productFamily="NAT Gateway"),
            "NatGateway-Hours" if rest == "hour" else "NatGateway-Bytes",
        )
    if kind == "eip":
        return "AmazonVPC", _filters(regionCode=region), "PublicIPv4:InUseAddress"
    if kind == "alb":
        return (
            "AWSELB",
            _filters(regionCode=region, productFamily="Load Balancer-Application"),
            "LoadBalancerUsage" if rest == "hour" else "LCUUsage",
        )
    if kind == "rds" and rest.startswith("storage:"):
        _, vol, az = rest.split(":")
        return (
            "AmazonRDS",
            _filters(
                regionCode=region,
                productFamily="Database Storage",
                volumeType=f"General Purpose-{vol.upper()}",
                databaseEngine="PostgreSQL",
                deploymentOption="Multi-AZ" if az == "multi-az" else "Single-AZ",
            ),
            "",
        )
    if kind == "rds" and rest == "backup":
        return "AmazonRDS", _filters(regionCode=region), "RDS:ChargedBackupUsage"
    if kind == "rds":
        engine, cls, az = rest.split(":")
        return (
            "AmazonRDS",
            _filters(
                regionCode=region,
                instanceType=cls,
                databaseEngine={"postgres": "PostgreSQL"}.get(engine, engine),
                deploymentOption="Multi-AZ" if az == "multi-az" else "Single-AZ",
            ),
            "",
        )
    if kind == "elasticache":
        return "AmazonElastiCache", _filters(regionCode=region, instanceType=rest, cacheEngine="Redis"), ""
    if kind == "s3" and rest == "put":
        # PUT, COPY, POST and LIST requests to S3 Standard.
        return "AmazonS3", _filters(regionCode=region), "Requests-Tier1"
    if kind == "s3":
        return "AmazonS3", _filters(regionCode=region, storageClass="General Purpose"), "TimedStorage-ByteHrs"
    # CloudWatch's usage types are listed in the CloudWatch user guide,
    # "Analyzing, optimizing, and reducing CloudWatch costs"
    # (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_billing.html).
    if kind == "logs":
        return (
            "AmazonCloudWatch",
            _filters(regionCode=region),
            {
                "ingest": "DataProcessing-Bytes",  # standard log class ingest
                "vended-ingest": "VendedLog-Bytes",  # vended logs (VPC flow logs), first tier
                "storage": "TimedStorage-ByteHrs",  # standard storage (not -IA-)
            }[rest],
        )
    if kind == "cloudwatch" and rest == "alarm":
        return "AmazonCloudWatch", _filters(regionCode=region), "CW:AlarmMonitorUsage"
    if kind == "cloudwatch" and rest.startswith("dashboard"):
        # Dashboards are priced once for all regions: the product has no
        # regionCode, so the usage type alone selects it.
        usage = "DashboardsUsageHour-Basic" if rest == "dashboard:basic" else "DashboardsUsageHour"
        return "AmazonCloudWatch", _filters(usagetype=usage), ""
    if kind == "ecr":
        return "AmazonECR", _filters(regionCode=region), "TimedStorage-ByteHrs"
    raise CommandError(f"no Price List query known for price key {key}", EXIT_FAILED)


def _first_price(product: dict) -> tuple[float, str] | None:
    """The lowest tier's USD price and unit of the product's on-demand term
    (GetProducts PriceList entries: JSON text with product and terms)."""
    for term in product.get("terms", {}).get("OnDemand", {}).values():
        dims = sorted(term.get("priceDimensions", {}).values(), key=lambda d: float(d.get("beginRange", "0") or 0))
        for d in dims:
            usd = d.get("pricePerUnit", {}).get("USD")
            if usd is not None:
                return float(usd), d.get("unit", "")
    return None


def fetch(client, key: str, region: str) -> dict:
    service, filters, suffix = query_for(key, region)
    matches = []
    for resp in pages.pages(
        client, "get_products", ServiceCode=service, Filters=filters, FormatVersion="aws_v1", MaxResults=100
    ):
        for text in resp.get("PriceList", []):
            product = json.loads(text) if isinstance(text, str) else text
            usage = product.get("product", {}).get("attributes", {}).get("usagetype", "")
            if suffix and not usage.endswith(suffix):
                continue
            price = _first_price(product)
            if price is not None:
                matches.append((product, price))
    if not matches:
        raise CommandError(
            f"Price List: no on-demand product for {key} in {region} ({service}, "
            f"{', '.join(f['Field'] + '=' + f['Value'] for f in filters)})",
            EXIT_FAILED,
        )
    product, (usd, unit) = matches[0]
    attrs = product.get("product", {}).get("attributes", {})
    return {
        "usd": usd,
        "unit": f"USD per {unit}",
        "read": dt.date.today().isoformat(),
        "source": f"AWS Price List API GetProducts {service}, sku {product.get('product', {}).get('sku', '?')}, "
        f"publicationDate {product.get('publicationDate', '?')}",
        "product": f"{service} {attrs.get('usagetype', '')}".strip(),
    }


def refresh(client, region: str, keys: list[str]) -> Iterator[tuple[int, int, str, dict | None]]:
    """Yield (done, total, key, entry) as each price is read; entry None for
    a key in :data:`NO_QUERY` (the caller keeps what the table had)."""
    for i, key in enumerate(keys, 1):
        yield i, len(keys), key, None if key in NO_QUERY else fetch(client, key, region)


def write(region: str, entries: dict[str, dict], directory: Path = cost.PRICES_DIR, location: str = "") -> Path:
    path = cost.price_path(region, directory)
    old = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    data = {
        "region": region,
        "location": location or old.get("location", ""),
        "currency": "USD",
        "hoursPerMonth": old.get("hoursPerMonth", 730),
        "hoursPerMonthSource": old.get("hoursPerMonthSource", "AWS Pricing Calculator: 730 hours in a month"),
        "note": f"Rebuilt from the AWS Price List API on {dt.date.today().isoformat()}.",
        "prices": entries,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


def keys_to_refresh(
    region: str, directory: Path = cost.PRICES_DIR, fallback: Callable[[], list[str]] | None = None
) -> list[str]:
    """The keys of the region's table if it exists, else those of any table."""
    path = cost.price_path(region, directory)
    if path.exists():
        return list(json.loads(path.read_text(encoding="utf-8"))["prices"])
    for other in sorted(directory.glob("*.json")):
        return list(json.loads(other.read_text(encoding="utf-8"))["prices"])
    return fallback() if fallback else []
