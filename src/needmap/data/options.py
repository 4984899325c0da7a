"""Per-column feature options (``ColumnSpec.options``): which keys each role accepts, and their values.

=============  ==================================================================================
role           keys
=============  ==================================================================================
multihot       ``separator`` (text lists; default ``"|"``), ``max_len``, ``pooling``, ``vocabulary_of``
sequence       ``separator`` (text lists; default: detected, see :mod:`needmap.preprocessing.lists`),
               ``max_len``, ``pooling``, ``vocabulary_of`` (a categorical column whose ids it shares)
categorical    ``hash_buckets`` (hash the values into this many buckets instead of a vocabulary)
numeric        ``bucketize`` (quantile buckets that replace the scaled value by a bucket id), ``values``
               (true / false: a value field of its exact values beside the scaled value, or none,
               whatever ``PreprocessConfig.value_fields`` says; see :mod:`needmap.preprocessing.values`),
               ``zero_flag`` (true / false: a 0/1 "is zero" column beside the scaled value, or none,
               whatever ``PreprocessConfig.zero_flags`` says; see :mod:`needmap.preprocessing.zero_flags`)
=============  ==================================================================================

Other roles take no options. :func:`check_options` is the one place that validates them; the schema
inference, the feature-type keys of the column roles (:func:`needmap.data.overrides.parse_feature_columns`,
whether given in Python, on the command line or in the YAML file) and the preprocessor all call it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from needmap.errors import ConfigError

POOLINGS: tuple[str, ...] = ("mean", "sum")
_LIST_KEYS = ("separator", "max_len", "pooling", "vocabulary_of")
ALLOWED_OPTIONS: dict[str, tuple[str, ...]] = {
    "multihot": _LIST_KEYS,
    "sequence": _LIST_KEYS,
    "categorical": ("hash_buckets",),
    "numeric": ("bucketize", "values", "zero_flag"),
}
DEFAULT_HASH_BUCKETS = 100_000
DEFAULT_BUCKETS = 10
MAX_HASH_BUCKETS = 1 << 40


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_options(
    name: str, role: str, options: Mapping[str, Any] | None, *, file: str | None = None
) -> dict[str, Any]:
    """The options of column ``name`` with role ``role``, checked; a new dict.

    Raises:
        ConfigError: ``options`` is not a mapping, has a key that ``role`` does not accept (the
            message names the column and the accepted keys), or a value of the wrong kind or range.
    """
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ConfigError(
            f"options are {options!r}, expected a mapping of option names to values.", file=file, column=name
        )
    allowed = ALLOWED_OPTIONS.get(role, ())
    unknown = sorted(str(k) for k in options if k not in allowed)
    if unknown:
        accepted = ", ".join(allowed) if allowed else "none"
        raise ConfigError(
            f"found unknown option(s) {', '.join(repr(k) for k in unknown)} for a {role} column, "
            f"expected only these keys: {accepted}.",
            file=file,
            column=name,
        )
    out: dict[str, Any] = {}
    for key, value in options.items():
        out[key] = _check_value(name, key, value, file)
    return out


def _check_value(name: str, key: str, value: Any, file: str | None) -> Any:
    def bad(expected: str) -> ConfigError:
        return ConfigError(f"option {key} is {value!r}, expected {expected}.", file=file, column=name)

    if key == "separator":
        if not isinstance(value, str) or value == "":
            raise bad("a non-empty string such as '|'")
        return value
    if key == "max_len":
        if not _is_int(value) or value < 1:
            raise bad("a whole number of at least 1")
        return int(value)
    if key == "pooling":
        if value not in POOLINGS:
            raise bad(f"one of {', '.join(POOLINGS)}")
        return str(value)
    if key == "vocabulary_of":
        if not isinstance(value, str) or not value.strip():
            raise bad("the name of a categorical column")
        return value.strip()
    if key == "hash_buckets":
        if not _is_int(value) or not 1 <= value <= MAX_HASH_BUCKETS:
            raise bad(f"a whole number of buckets from 1 to {MAX_HASH_BUCKETS}")
        return int(value)
    if key == "bucketize":
        if not _is_int(value) or value < 2:
            raise bad("a whole number of at least 2 buckets")
        return int(value)
    if key in ("values", "zero_flag"):
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    return value
