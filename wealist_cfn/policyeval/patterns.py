"""Wildcards, ARNs and policy variables, as the IAM policy grammar defines
them. Standard library only."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Mapping


@lru_cache(maxsize=4096)
def _compiled(pattern: str, case: bool) -> re.Pattern:
    # IAM wildcards are * (any run of characters, "/" and ":" included) and
    # ? (one character); nothing else is special: no [] classes as in
    # fnmatch (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html,
    # "Including wildcard characters in the resource ARN").
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.S if case else re.S | re.I)


def glob_matches(pattern: str, value: str, *, case: bool) -> bool:
    return _compiled(pattern, case).fullmatch(value) is not None


def arn_matches(pattern: str, value: str) -> bool:
    """ArnEquals / ArnLike: "Each of the six colon-delimited components of
    the ARN is checked separately and each can include multi-character match
    wildcards (*) or single-character match wildcards (?)", case-sensitive
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_ARN)."""
    want, got = pattern.split(":", 5), value.split(":", 5)
    if len(want) < 6:
        return glob_matches(pattern, value, case=True)
    if len(got) < 6:
        return False
    return all(glob_matches(w, g, case=True) for w, g in zip(want, got))


# -- policy variables ------------------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
# "${aws:username}" takes the request's value; "${key, 'default'}" a default
# when the key is absent; ${*}, ${?} and ${$} stand for the characters
# themselves. "If the key ... is not present in the request context ...
# the policy element that uses it does not match" (no default given): the
# substitution then answers None. A substituted * or ? is then matched as a
# wildcard by the Like operators and the Resource element; no policy of
# this project uses those escapes.
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_DEFAULT = re.compile(r"^\s*([^,]+?)\s*,\s*'([^']*)'\s*$")


def substitute(text: str, context: Mapping[str, Any]) -> str | None:
    if "${" not in text:
        return text
    from .conditions import lookup

    missing = False

    def one(match: re.Match) -> str:
        nonlocal missing
        inner = match.group(1)
        if inner in ("*", "?", "$"):
            return inner
        default = _DEFAULT.match(inner)
        key, fallback = (default.group(1), default.group(2)) if default else (inner.strip(), None)
        value = lookup(context, key)
        if isinstance(value, (list, tuple)):
            # "You can't use multivalued context keys as policy variables."
            from .conditions import UnmodelledPolicy

            raise UnmodelledPolicy(f"policy variable ${{{key}}} names a multivalued key")
        if value is None:
            if fallback is None:
                missing = True
                return ""
            return fallback
        return ("true" if value else "false") if isinstance(value, bool) else str(value)

    out = _VARIABLE.sub(one, text)
    return None if missing else out
