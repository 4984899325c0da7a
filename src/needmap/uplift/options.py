"""UpliftOptions: how ``needmap train --task uplift`` reads a randomized test, declared once for the command
line, the YAML file and :func:`needmap.uplift.train.train_uplift`'s callers.

A module of declarations only (no pyarrow, no torch), so that ``--help`` stays light.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from needmap.declare import Options, number, option, optional, text
from needmap.errors import ConfigError


def number_pairs(text: str, flag: str, form: str, example: str) -> dict[str, float]:
    """``"a=0.5,b=2"`` as {name: number}; ConfigError naming ``flag``, the part at fault, the ``form`` expected
    (``ARM=SHARE``) and an ``example``."""
    out = {}
    for part in text.split(","):
        name, sep, number = part.partition("=")
        try:
            out[name.strip()] = float(number)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise ConfigError(f"{flag} {text!r}: {part!r} is not {form}; expected e.g. {example}.")
    return out


def _shares(value: Any) -> Any:
    """``"control=0.5,discount=0.25,free_shipping=0.25"`` (or a mapping) as {arm: share}."""
    if value is None:
        return value
    if isinstance(value, dict):
        try:
            return {str(k): float(v) for k, v in value.items()}
        except (TypeError, ValueError):
            raise ConfigError(f"shares {value!r}: expected a number per arm, e.g. control=0.5,offer=0.5.") from None
    if not isinstance(value, str):
        return value
    return number_pairs(value, "--shares", "ARM=SHARE", "control=0.5,offer=0.5")


def _share_map(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict) and all(isinstance(v, float) and 0 < v < 1 for v in value.values()):
        return None
    return "arm=share pairs with shares between 0 and 1"


@dataclass
class UpliftOptions(Options):
    """The campaign's columns, its design and the uplift learners' choices."""

    kind: ClassVar[str] = "uplift"

    treatment: str | None = option(
        None, help="[uplift] The column naming each row's arm: the control value or an offer.", check=optional(text),
        metavar="COLUMN",
    )  # fmt: skip
    control: str | None = option(
        None, help="[uplift] The treatment column's value for the rows that got no offer.", check=optional(text),
        metavar="VALUE",
    )  # fmt: skip
    propensity: str | None = option(
        None, help="[uplift] A column holding each row's chance of the arm it received (when assignment was not "
        "uniform).", check=optional(text), metavar="COLUMN",
    )  # fmt: skip
    shares: dict[str, float] | None = option(
        None, help="[uplift] The arms' declared shares, checked against the data: control=0.5,offer=0.5.",
        convert=_shares, check=_share_map, metavar="ARM=SHARE,...",
    )  # fmt: skip
    base: str = option(
        "lightgbm", help="[uplift] The meta-learners' outcome model: lightgbm or a zoo network (mlp, deepfm, ...).",
        check=text, metavar="MODEL",
    )  # fmt: skip
    top_share: float = option(
        0.3, help="[uplift] The share of customers, best first, at which uplift_at_k and incremental_at_k are taken.",
        check=number(0.0, strict=True, high=1.0),
    )  # fmt: skip
