"""The roles of the special columns of a feature table built from an event log.

Such a table (:mod:`needmap.events.table_info`) says which column names the customer, which holds the cutoff
and which are labels. None of them is an input: the customer column is an id (carried to the scores), the
cutoff only orders the rows in time, and a label that is not a target is an outcome after the cutoff, the
future: predicting ``label_bought`` from ``label_purchases`` would be a leak. A user's role that would make
a label an input is refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from needmap.errors import ConfigError
from needmap.events.table_info import FeatureTableInfo
from needmap.schema import Schema

#: The role options that make a column an input.
INPUT_ROLES: tuple[str, ...] = ("categorical", "numeric", "datetime", "multihot", "sequence", "hash", "bucketize")

CUSTOMER_REASON = "the customer column of a table built from an event log: an id, carried to the scores"
CUTOFF_REASON = "the cutoff of each row of a table built from an event log: orders the rows in time, not an input"
LABEL_REASON = "a label of a table built from an event log: an outcome after the cutoff (the future), never an input"


def check_label_roles(info: FeatureTableInfo, targets: Iterable[str], roles: dict[str, object]) -> None:
    """ConfigError when one of the user's input roles names a label column that is not a target."""
    targets = set(targets)
    for role in INPUT_ROLES:
        for name in roles.get(role) or ():
            if name in info.labels and name not in targets:
                raise ConfigError(
                    f"the column '{name}' is given the role {role}, and it is a label of this feature table: the "
                    f"outcome in the {info.spec.horizon_days} days after each cutoff, unknown when a row is scored. "
                    "Expected it as a target or not at all.",
                )


def event_roles(schema: Schema, info: FeatureTableInfo, roles: dict[str, object]) -> Schema:
    """``schema`` with the customer column an id, the cutoff column and the labels that are not targets ignored,
    each with its reason; a role the user gave the customer or cutoff column explicitly is kept."""
    targets = {h.name for h in schema.heads}
    check_label_roles(info, targets, roles)
    explicit = {str(n) for role in (*INPUT_ROLES, "ids", "drop") for n in (roles.get(role) or ())}
    columns = []
    for spec in schema.columns:
        name = spec.name
        if name in targets:
            columns.append(spec)
        elif name in info.labels:
            columns.append(replace(spec, role="ignored", reason=LABEL_REASON, options={}))
        elif name in explicit:
            columns.append(spec)
        elif name == info.customer_column:
            columns.append(replace(spec, role="id", reason=CUSTOMER_REASON, options={}))
        elif name == info.cutoff_column:
            columns.append(replace(spec, role="ignored", reason=CUTOFF_REASON, options={}))
        else:
            columns.append(spec)
    return Schema(columns, heads=list(schema.heads))
