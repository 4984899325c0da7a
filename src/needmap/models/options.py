"""NetworkOptions: the options most architectures share, declared once; None leaves the architecture's default.

An architecture's own options (DCN-v2's ``cross_layers``, AutoInt's ``num_heads``, ...) are the keyword
arguments of its constructor, documented in its docstring; these common ones are declared here so that
the Python API, the YAML file and the command line (``--hidden 256,128``) share their help and checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from needmap import option_text
from needmap.declare import Options, boolean, is_int, number, one_of, option, optional, whole

#: The activations of the hidden layers, by name (:data:`needmap.models.layers.ACTIVATIONS` makes each; kept
#: here as names so that the declared options load without torch).
ACTIVATION_NAMES = ("relu", "gelu", "silu", "tanh", "prelu")


def _hidden(value: Any) -> str | None:
    if value is None or (isinstance(value, list) and all(is_int(v) and v > 0 for v in value)):
        return None
    return "a list of positive layer widths, e.g. [400, 400, 400], or None"


@dataclass
class NetworkOptions(Options):
    """Options every architecture with embeddings and a deep tower has (None: the architecture's default)."""

    kind: ClassVar[str] = "network"

    hidden: list[int] | None = option(
        None,
        help="Hidden layer widths of the deep tower, e.g. 400,400,400.",
        check=_hidden,
        convert=lambda v: [int(x) if is_int(x) else x for x in v] if isinstance(v, (list, tuple)) else v,
        parse=option_text.ints,
        metavar="WIDTHS",
    )
    embedding_dim: int | None = option(
        None, help="Embedding size of each categorical field.", check=optional(whole()), metavar="N"
    )
    dropout: float | None = option(
        None, help="Dropout rate of the hidden layers.", check=optional(number(0.0, high=0.99)), metavar="RATE"
    )
    activation: str | None = option(
        None,
        help="Activation of the hidden layers: relu, gelu, silu, tanh or prelu.",
        check=optional(one_of(*ACTIVATION_NAMES)),
    )
    batch_norm: bool | None = option(None, help="Batch normalization in the deep tower.", check=optional(boolean))

    def given(self) -> dict[str, Any]:
        """The options set (not None), for the architecture's constructor."""
        return {name: value for name, value in self.to_dict().items() if value is not None}
