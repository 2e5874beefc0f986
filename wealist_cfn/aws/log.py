"""What ``-v/--verbose`` and ``--debug`` show of the AWS calls a command makes.

``-v``: one line per API call on stderr, with the service, the operation,
the outcome and the time it took (retries included), from botocore's
``before-call`` / ``after-call`` / ``after-call-error`` events. Never a
parameter: a PutParameter's value or a password stays out by construction.

``--debug``: botocore's own wire log as well (its DEBUG logging), passed
through :class:`Redactor` first, which blanks the values of secret-shaped
fields (``Value``, ``*Password*``, ``*Secret*``, ``*Token*``) in the JSON,
XML, query-string and Python-repr forms the log prints, the request
signature and session token headers, and every value the command itself
sent in such a field, wherever it appears again.

The command line calls :func:`configure` once; :class:`wealist_cfn.aws.Aws`
calls :func:`attach` on each session it makes.
"""

from __future__ import annotations

import ast
import json
import logging
import re
import sys
import time
from urllib.parse import quote, quote_plus

REDACTED = "[redacted]"
# Field names whose values are secrets, or may be: an SSM parameter's value
# (SecureString or not), Secrets Manager strings, database passwords,
# ElastiCache auth tokens, credentials.
SECRET_KEY = r"(?:Value|[A-Za-z_]*(?:[Pp]assword|[Ss]ecret|[Tt]oken|Credential)[A-Za-z_]*)"
_PATTERNS = [
    # JSON: "Value": "..."  (also inside a b'...' repr of a body)
    (re.compile(r'("' + SECRET_KEY + r'"\s*:\s*)"(?:[^"\\]|\\.)*"'), r'\1"' + REDACTED + '"'),
    # Python repr of a dict: 'Value': 'x' or b'x'
    (
        re.compile(r"('" + SECRET_KEY + r"'\s*:\s*)b?(?:'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"),
        r"\1'" + REDACTED + "'",
    ),
    # XML: <Value>...</Value>
    (re.compile(r"<(" + SECRET_KEY + r")>[^<]*</\1>"), r"<\1>" + REDACTED + r"</\1>"),
    # query strings and form bodies: Value=...&
    (re.compile(r"((?:^|[&?\s'\"])(?:[\w.]*\.)?" + SECRET_KEY + r"=)[^&\s'\"]*"), r"\1" + REDACTED),
    # SigV4: the signature and the key ID in the Authorization header
    (re.compile(r"(Signature=)[0-9a-fA-F]+"), r"\1" + REDACTED),
    (re.compile(r"(Credential=)[^,\s'\"]+"), r"\1" + REDACTED),
    # The session token: a header in a dict repr ('X-Amz-Security-Token': b'...'), a line of
    # SigV4's canonical request (x-amz-security-token:...), a presigned URL's query (...=...).
    (re.compile(r"(x-amz-security-token'?\s*[:=]\s*(?:b?')?)[^'\s,&]*", re.I), r"\1" + REDACTED),
    # botocore.auth's "Signature:\n<hex>" line.
    (re.compile(r"(Signature:\s*)[0-9a-fA-F]{16,}"), r"\1" + REDACTED),
]
# A bytes literal in a repr (a request or response body): b'...' or b"...".
_BYTES = re.compile(r"""\bb('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""")
_SECRET_NAME = re.compile(r"^" + SECRET_KEY + r"$")


class _State:
    verbose = False
    debug = False
    stream = None
    secrets: set[str] = set()
    handler: logging.Handler | None = None


def redact(text: str) -> str:
    """``text`` with every secret-shaped value and every secret sent blanked."""
    for secret in sorted(_State.secrets, key=len, reverse=True):
        for form in _forms(secret):
            text = text.replace(form, REDACTED)
    # Inside a bytes repr JSON's backslashes are doubled (\\" for an escaped quote), which the
    # JSON rule would read as an escaped backslash and a closing quote: redact the decoded body.
    text = _BYTES.sub(_redact_bytes, text)
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


def _redact_bytes(match: re.Match) -> str:
    try:
        body = ast.literal_eval("b" + match.group(1)).decode("utf-8")
    except (ValueError, SyntaxError, UnicodeDecodeError):
        return match.group(0)
    for pattern, repl in _PATTERNS:
        body = pattern.sub(repl, body)
    return repr(body.encode("utf-8"))


def _forms(secret: str) -> set[str]:
    """The ways a value shows up in a wire log: as is, JSON-escaped, URL-encoded, repr-escaped."""
    as_json = json.dumps(secret)
    # In a body's bytes repr: JSON-escaped, encoded, then repr-escaped (backslashes doubled);
    # the JSON text always holds a '"', so the repr is single-quoted and escapes "'".
    in_body = repr(as_json.encode("utf-8"))[3:-2]
    return {
        f for f in (secret, as_json[1:-1], quote_plus(secret), quote(secret, safe=""), repr(secret)[1:-1], in_body) if f
    }


class Redactor(logging.Filter):
    """Rewrites each record's message through :func:`redact` before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a record that cannot format is dropped, never printed raw
            return False
        record.msg, record.args = redact(message), ()
        return True


def configure(*, verbose: bool = False, debug: bool = False, stream=None) -> None:
    """Set what this process shows (the command line, once per command)."""
    _State.verbose, _State.debug = verbose or debug, debug
    _State.stream = stream
    _State.secrets = set()
    root = logging.getLogger("botocore")
    if _State.handler is not None:
        root.removeHandler(_State.handler)
        _State.handler = None
    if debug:
        handler = logging.StreamHandler(stream or sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        handler.addFilter(Redactor())
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)
        # Every event dispatch and model load is a line of its own: noise, not wire.
        logging.getLogger("botocore.hooks").setLevel(logging.INFO)
        logging.getLogger("botocore.loaders").setLevel(logging.INFO)
        # SigV4's canonical request, string to sign and signature, with the session token
        # in clear: nothing to debug a deploy with, everything to replay a request with.
        logging.getLogger("botocore.auth").setLevel(logging.INFO)
        _State.handler = handler
    else:
        for name in ("botocore", "botocore.hooks", "botocore.loaders", "botocore.auth"):
            logging.getLogger(name).setLevel(logging.NOTSET)


def _remember(params=None, **_kw) -> None:
    """Learn the values the command sends in secret-shaped fields, so the
    wire log blanks them wherever they appear (a body, a header, a repr)."""

    def walk(node, key=""):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, k)
        elif isinstance(node, list):
            for v in node:
                walk(v, key)
        elif isinstance(node, str) and _SECRET_NAME.match(key or "") and len(node) >= 4:
            _State.secrets.add(node)

    walk(params)


def _started(context=None, **_kw) -> None:
    if context is not None:
        context["wealist_started"] = time.perf_counter()


def _line(text: str) -> None:
    print(text, file=_State.stream or sys.stderr, flush=True)


def _elapsed(context) -> float:
    started = (context or {}).get("wealist_started")
    return time.perf_counter() - started if started else 0.0


def _finished(http_response=None, parsed=None, model=None, context=None, **_kw) -> None:
    meta = (parsed or {}).get("ResponseMetadata", {}) if isinstance(parsed, dict) else {}
    status = getattr(http_response, "status_code", None) or meta.get("HTTPStatusCode", "")
    error = (parsed or {}).get("Error", {}).get("Code") if isinstance(parsed, dict) else None
    retries = meta.get("RetryAttempts") or 0
    outcome = f"{status} {error}" if error and error != str(status) else f"{status}"
    more = f", {retries} retr{'y' if retries == 1 else 'ies'}" if retries else ""
    _line(f"aws {model.service_model.service_name} {model.name}: {outcome} in {_elapsed(context):.3f}s{more}")


def _failed(exception=None, context=None, event_name="", **_kw) -> None:
    operation = event_name.rsplit(".", 1)[-1]
    service = event_name.split(".")[1] if event_name.count(".") >= 2 else "aws"
    _line(f"aws {service} {operation}: {type(exception).__name__} after {_elapsed(context):.3f}s")


def attach(session) -> None:
    """Hook a boto3 session's clients up to what :func:`configure` asked for."""
    if not _State.verbose:
        return
    events = session.events
    events.register("before-parameter-build", _remember)
    events.register("before-call", _started)
    events.register("after-call", _finished)
    events.register("after-call-error", _failed)
