"""How values of any Arrow type become category and class labels (strings)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc


def stringify(array: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Cast an array of any type to strings, the way needmap names categories and classes.

    Booleans become ``"true"``/``"false"``, integers their decimal digits, floats that hold whole
    numbers lose the ``.0`` (``1.0`` -> ``"1"``), other floats Arrow's shortest repr; strings are
    kept as they are. Nulls stay null. Shape: same length as ``array``.
    """
    typ = array.type
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        return array
    if pa.types.is_dictionary(typ):
        return stringify(pc.cast(array, typ.value_type))
    if pa.types.is_boolean(typ):
        return pc.if_else(array, "true", "false")
    if pa.types.is_floating(typ):
        whole = pc.equal(pc.floor(array), array)
        as_int = pc.cast(pc.if_else(whole, array, 0.0), pa.int64(), safe=False)
        return pc.if_else(whole, pc.cast(as_int, pa.string()), pc.cast(array, pa.string()))
    return pc.cast(array, pa.string())
