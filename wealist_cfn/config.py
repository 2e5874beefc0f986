"""Load and validate ``params/<env>.json`` before anything else runs.

The file is CloudFormation's native parameter list::

    [{"ParameterKey": "VpcCidr", "ParameterValue": "10.1.0.0/16"}, ...]

which ``aws cloudformation create-change-set --parameters file://...`` and
AWS CLI v2's ``deploy --parameter-overrides file://...`` accept as they are.
Every problem is a :class:`ConfigError` whose text is one line naming the
file, the key and what is wrong.

``--parameter Key=Value`` on the command line overrides one value of the
file; :func:`parse_overrides` reads the flags and :func:`use_overrides`
hands them to every later :func:`load` of that file in this process (the
commands each load their file themselves). An override is checked by the
same rules as the file, and a problem names the flag instead of the file.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from pathlib import Path

from wealist_cfn.core.parameters import PARAMS_BY_NAME, ROOT_PARAMETERS, ParamSpec, deploy_bucket_name
from wealist_cfn.core.regions import UnknownRegion, log_delivery_principal
from wealist_cfn.core.settings import DEFAULT_SETTINGS, PARAMS_DIR
from wealist_cfn.errors import EXIT_USAGE, CommandError


class ConfigError(CommandError, ValueError):
    """A parameter file is unusable (bad input, exit 2). ``str()`` is the one line to print."""

    exit_code = EXIT_USAGE

    def __init__(self, path: Path | str, key: str | None, message: str):
        self.path, self.key, self.message = str(path), key, message
        # A --parameter flag reads as the command line wrote it: "--parameter Key: ...".
        sep = " " if self.path == "--parameter" else ": "
        where = f"{self.path}{sep}{key}" if key else self.path
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class Config:
    """A validated parameter file: every root parameter with its value."""

    path: Path
    values: dict[str, str]  # every root parameter, defaults filled in
    given: tuple[str, ...]  # the keys the file itself sets, in file order
    overridden: tuple[str, ...] = ()  # the keys a --parameter set, in flag order

    def source(self, key: str) -> str:
        """Where ``key``'s value came from: ``--parameter``, ``file``, ``derived``
        (deploy works it out; see parameters.ParamSpec.derived) or ``default``."""
        spec = PARAMS_BY_NAME.get(key)
        if spec is not None and spec.derived:
            return "derived"
        if key in self.overridden:
            return OVERRIDE_FLAG
        return "file" if key in self.given else "default"

    def effective(self) -> list[dict[str, str]]:
        """Every root parameter with its value and :meth:`source`, in template order."""
        return [{"key": p.name, "value": self.values[p.name], "source": self.source(p.name)} for p in ROOT_PARAMETERS]

    @property
    def project(self) -> str:
        return self.values["Project"]

    @property
    def environment(self) -> str:
        return self.values["Environment"]

    @property
    def name_prefix(self) -> str:
        return f"{self.project}-{self.environment}"

    @property
    def multi_az(self) -> bool:
        return self.values["EnableMultiAZ"] == "true"

    @property
    def availability_zones(self) -> list[str]:
        return self.values["AvailabilityZones"].split(",")

    @property
    def region(self) -> str:
        """The region the availability zones belong to (``ap-northeast-2a`` -> ``ap-northeast-2``)."""
        return self.availability_zones[0][:-1]

    def region_for(self, region: str | None) -> str:
        """The region to work in: the zones' region; a ``--region`` that says
        otherwise is a :class:`ConfigError` (the stack, its parameters and
        its groups all live in the zones' region), and so is a region whose
        load balancer access-log delivery the templates cannot grant (their
        mapping would fail the stack half way through a deploy)."""
        if region and region != self.region:
            raise ConfigError(
                self.path,
                "AvailabilityZones",
                f"{self.values['AvailabilityZones']} are in {self.region}; --region {region} contradicts them",
            )
        try:
            log_delivery_principal(self.region)
        except UnknownRegion as exc:
            raise ConfigError(self.path, "AvailabilityZones", str(exc)) from None
        return self.region

    def deploy_bucket_name(self, account: str) -> str:
        """The deploy bucket: the params file's DeployBucketName, or when it
        is empty the account-unique name the templates compute the same way
        (parameters.deploy_bucket_name; docs/deploy.md). A method, not a
        property: a name without the account would be wrong for every
        account but one."""
        return self.values["DeployBucketName"] or deploy_bucket_name(
            self.project, self.environment, account, self.region
        )

    def cfn_parameters(self, *, only_given: bool = False) -> list[dict[str, str]]:
        """The ``Parameters`` list for CreateChangeSet / CreateStack."""
        keys = self.given if only_given else [p.name for p in ROOT_PARAMETERS]
        return [{"ParameterKey": k, "ParameterValue": self.values[k]} for k in keys]

    def with_values(self, **overrides: str) -> "Config":
        """A copy with some values replaced and validated again (tests, mode flips)."""
        values = dict(self.values, **overrides)
        given = tuple(dict.fromkeys(self.given + tuple(overrides)))
        _validate_values(self.path, values)
        return Config(path=self.path, values=values, given=given, overridden=self.overridden)


def _check_spec(path: Path, spec: ParamSpec, value: str) -> None:
    key = spec.name
    if spec.allowed_values and value not in spec.allowed_values:
        allowed = ", ".join(repr(v) for v in spec.allowed_values)
        raise ConfigError(path, key, f"{value!r} is not one of {allowed}")
    if spec.type == "Number":
        if not re.fullmatch(r"-?\d+", value):
            raise ConfigError(path, key, f"{value!r} is not a whole number")
        n = int(value)
        if spec.min_value is not None and n < spec.min_value:
            raise ConfigError(path, key, f"{n} is below the minimum {spec.min_value}")
        if spec.max_value is not None and n > spec.max_value:
            raise ConfigError(path, key, f"{n} is above the maximum {spec.max_value}")
    if spec.max_length is not None and len(value) > spec.max_length:
        raise ConfigError(path, key, f"{value!r} is longer than {spec.max_length} characters")
    if spec.allowed_pattern and not re.fullmatch(spec.allowed_pattern, value):
        raise ConfigError(path, key, f"{value!r} must be {spec.constraint}")


def _check_cidr(path: Path, key: str, value: str) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.IPv4Network(value, strict=False)
    except ValueError as exc:
        raise ConfigError(path, key, f"{value!r} is not a valid IPv4 CIDR block ({exc})") from None
    if str(net) != value:
        raise ConfigError(path, key, f"{value!r} has host bits set; did you mean {net}?")
    return net


# A placeholder in the name, in any of the spellings people reach for: no
# expansion happens anywhere (CloudFormation would pass it on as it is).
_PLACEHOLDER = re.compile(r"\$?\{[^}]*\}?|<[^>]*>?")


def _validate_values(path: Path, values: dict[str, str]) -> None:
    placeholder = _PLACEHOLDER.search(values["DeployBucketName"])
    if placeholder:
        raise ConfigError(
            path,
            "DeployBucketName",
            f"{placeholder.group(0)!r} is a placeholder nothing expands: "
            f"leave the value empty for the account-unique name "
            f"{deploy_bucket_name(values['Project'], values['Environment'], '<account ID>', '<region>')}"
            f", or write a whole bucket name (docs/deploy.md)",
        )
    for spec in ROOT_PARAMETERS:
        _check_spec(path, spec, values[spec.name])

    vpc = _check_cidr(path, "VpcCidr", values["VpcCidr"])
    # AWS accepts VPC blocks from /16 to /28.
    if not 16 <= vpc.prefixlen <= 28:
        raise ConfigError(path, "VpcCidr", f"{vpc} is outside the /16 to /28 range AWS allows for a VPC")
    bits = int(values["SubnetBits"])  # host bits of each subnet, as Fn::Cidr takes them
    subnets = 2 * DEFAULT_SETTINGS.az_count
    room = 2 ** (32 - bits - vpc.prefixlen) if 32 - bits >= vpc.prefixlen else 0
    if room < subnets:
        raise ConfigError(
            path,
            "VpcCidr",
            f"{vpc} holds only {room} subnets of /{32 - bits}, {subnets} are needed; "
            f"use a larger block or a smaller SubnetBits",
        )
    _check_cidr(path, "MonitoringAccessCidr", values["MonitoringAccessCidr"])

    azs = values["AvailabilityZones"].split(",")
    if len(azs) != DEFAULT_SETTINGS.az_count:
        raise ConfigError(
            path, "AvailabilityZones", f"lists {len(azs)} zones, exactly {DEFAULT_SETTINGS.az_count} are needed"
        )
    if len(set(azs)) != len(azs):
        raise ConfigError(path, "AvailabilityZones", f"{values['AvailabilityZones']!r} names a zone twice")
    regions = {az[:-1] for az in azs}
    if len(regions) != 1:
        raise ConfigError(
            path, "AvailabilityZones", f"zones span several regions ({', '.join(sorted(regions))}); they must share one"
        )

    if int(values["BackendMinSize"]) > int(values["BackendMaxSize"]):
        raise ConfigError(
            path,
            "BackendMinSize",
            f"{values['BackendMinSize']} is larger than BackendMaxSize {values['BackendMaxSize']}",
        )
    if values["UserServicePort"] == values["BoardServicePort"]:
        raise ConfigError(path, "BoardServicePort", "must differ from UserServicePort")
    reserved = {DEFAULT_SETTINGS.grafana_port, DEFAULT_SETTINGS.prometheus_port, DEFAULT_SETTINGS.node_exporter_port}
    for key in ("UserServicePort", "BoardServicePort"):
        if int(values[key]) in reserved:
            raise ConfigError(
                path,
                key,
                f"{values[key]} is taken by the monitoring stack ({', '.join(str(p) for p in sorted(reserved))})",
            )

    cert = values["CertificateArn"]
    if cert and cert.split(":")[3] != azs[0][:-1]:
        raise ConfigError(
            path,
            "CertificateArn",
            f"certificate is in {cert.split(':')[3]}, the stack in {azs[0][:-1]}; an ALB needs one from its own region",
        )
    bucket = values["DeployBucketName"]
    if ".." in bucket or re.fullmatch(r"(\d{1,3}\.){3}\d{1,3}", bucket) or _reserved(bucket):
        raise ConfigError(
            path,
            "DeployBucketName",
            f"{bucket!r} is not a name S3 accepts" + (f" ({_reserved(bucket)})" if _reserved(bucket) else ""),
        )
    if not bucket:
        # S3 names are 3-63 characters (S3 User Guide, "Bucket naming rules");
        # an account ID is 12 digits.
        derived = deploy_bucket_name(values["Project"], values["Environment"], "0" * 12, azs[0][:-1])
        if len(derived) > 63:
            raise ConfigError(
                path,
                "DeployBucketName",
                f"empty, and the account-unique name {derived!r} would "
                f"be {len(derived)} characters, over S3's 63: set a shorter name",
            )
        if _reserved(derived):
            raise ConfigError(
                path,
                "DeployBucketName",
                f"empty, and the account-unique name {derived!r} is not "
                f"a name S3 accepts ({_reserved(derived)}): set a name of your own or another "
                f"Project",
            )


# Prefixes and suffixes S3 reserves (S3 User Guide, "General purpose bucket
# naming rules": names must not start with xn--, sthree- or amzn-s3-demo-,
# nor end with -s3alias, --ol-s3, .mrap, --x-s3 or --table-s3).
RESERVED_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
RESERVED_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def _reserved(bucket: str) -> str:
    """What S3 reserves in ``bucket``'s name, or ""."""
    for prefix in RESERVED_BUCKET_PREFIXES:
        if bucket.startswith(prefix):
            return f"the prefix {prefix} is reserved"
    for suffix in RESERVED_BUCKET_SUFFIXES:
        if bucket.endswith(suffix):
            return f"the suffix {suffix} is reserved"
    return ""


def _check_key(where, key: str, seen, *, derived: str, twice: str) -> None:
    """One parameter key, from a file or from --parameter: known, set by
    hand, and given once."""
    if key not in PARAMS_BY_NAME:
        close = [n for n in PARAMS_BY_NAME if n.lower() == key.lower()]
        hint = f"; did you mean {close[0]}?" if close else ""
        raise ConfigError(where, key, f"unknown parameter{hint}")
    if PARAMS_BY_NAME[key].derived:
        raise ConfigError(
            where, key, f"is derived by deploy and plan (from the release tags in Parameter Store), {derived}"
        )
    if key in seen:
        raise ConfigError(where, key, twice)


def parse(path: Path | str, text: str, overrides: dict[str, str] | None = None) -> Config:
    """Validate the text of a parameter file, with ``overrides`` (from
    :func:`parse_overrides`) replacing its values; raise :class:`ConfigError`."""
    path = Path(path)
    overrides = dict(overrides or {})

    def no_duplicates(pairs):
        obj = {}
        for k, v in pairs:
            if k in obj:
                raise ConfigError(path, k, "appears twice in one entry")
            obj[k] = v
        return obj

    try:
        data = json.loads(text, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as exc:
        raise ConfigError(path, None, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(data, list):
        raise ConfigError(
            path,
            None,
            'must be a JSON list of {"ParameterKey": ..., "ParameterValue": ...} '
            f"objects, found a JSON {type(data).__name__}",
        )
    given: dict[str, str] = {}
    for i, entry in enumerate(data):
        if not isinstance(entry, dict) or "ParameterKey" not in entry:
            raise ConfigError(path, f"[{i}]", 'must be an object with "ParameterKey" and "ParameterValue"')
        extra = set(entry) - {"ParameterKey", "ParameterValue"}
        key = entry["ParameterKey"]
        if not isinstance(key, str):
            raise ConfigError(path, f"[{i}]", "ParameterKey must be a string")
        if extra:
            raise ConfigError(
                path, key, f"unexpected field {sorted(extra)[0]!r} (only ParameterKey and ParameterValue are allowed)"
            )
        _check_key(path, key, given, derived="not set in a params file: remove this entry", twice="is set twice")
        if "ParameterValue" not in entry:
            raise ConfigError(path, key, "has no ParameterValue")
        value = entry["ParameterValue"]
        if not isinstance(value, str):
            raise ConfigError(
                path,
                key,
                f"value must be a string, found {json.dumps(value)} "
                f'(write "{value if not isinstance(value, bool) else str(value).lower()}")',
            )
        given[key] = value

    values = {}
    for spec in ROOT_PARAMETERS:
        if spec.name in overrides:
            values[spec.name] = overrides[spec.name]
        elif spec.name in given:
            values[spec.name] = given[spec.name]
        elif spec.default is not None:
            values[spec.name] = spec.default
        else:
            raise ConfigError(path, spec.name, "is required and missing")
    # A value of its own is checked first and blamed on the flag; a rule
    # between two values (BackendMinSize <= BackendMaxSize) is blamed on the
    # flag when the key it names was overridden, else on the file.
    for key, value in overrides.items():
        _check_spec(Path(OVERRIDE_FLAG), PARAMS_BY_NAME[key], value)
    try:
        _validate_values(path, values)
    except ConfigError as exc:
        if exc.key in overrides:
            raise ConfigError(OVERRIDE_FLAG, exc.key, exc.message) from None
        if overrides:
            raise ConfigError(f"{path} with {OVERRIDE_FLAG} {', '.join(overrides)}", exc.key, exc.message) from None
        raise
    given_keys = tuple(given) + tuple(k for k in overrides if k not in given)
    return Config(path=path, values=values, given=given_keys, overridden=tuple(overrides))


OVERRIDE_FLAG = "--parameter"
# path (resolved) -> the overrides every load of that file applies
_overrides: dict[Path, dict[str, str]] = {}


def parse_overrides(items: list[str] | None) -> dict[str, str]:
    """``--parameter Key=Value`` flags as a dict; a flag without ``=``, an
    unknown or derived key, or a key given twice is a :class:`ConfigError`
    naming the flag. The values themselves are checked when applied
    (:func:`parse`), by the same rules as the file's."""
    out: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(OVERRIDE_FLAG, None, f"{item!r} is not Key=Value (e.g. --parameter BackendMinSize=3)")
        _check_key(OVERRIDE_FLAG, key, out, derived="not set by hand", twice="is given twice")
        out[key] = value
    return out


def use_overrides(paths, overrides: dict[str, str]) -> None:
    """Every later :func:`load` of one of ``paths`` applies ``overrides``
    (the command line's ``--parameter``); an empty dict clears them."""
    _overrides.clear()
    if overrides:
        for p in paths:
            _overrides[Path(p).resolve()] = dict(overrides)


def load(path: Path | str) -> Config:
    """Read and validate one parameter file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, None, "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, None, f"cannot be read: {exc}") from None
    return parse(_display(path), text, _overrides.get(path.resolve()))


def _display(path: Path) -> Path:
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path


def param_files(directory: Path = PARAMS_DIR) -> list[Path]:
    return sorted(directory.glob("*.json"))
