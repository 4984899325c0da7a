"""Database URLs without their passwords, for messages, screens and what needmap records.

A URL such as ``postgresql://user:secret@host/db`` names a database in an option, a message or a model's
records; the password must appear in none of them. :func:`redact` replaces it, wherever it is written in the
URL, by ``***``. It lives at the bottom of the data layer so that reading (``needmap.data.postgres``) and the
study of a search (``needmap.workflows.study``) mask the same way.
"""

from __future__ import annotations

import re

#: ``scheme://user:password@``: the password runs to the last ``@`` before the host (a password may hold ``@``).
_USERINFO = re.compile(r"(://[^/:@\s]*):[^/\s]*@")
#: ``?password=...`` or ``&password=...``, as a connection URL may also carry it.
_PARAMETER = re.compile(r"(?i)([?&]password=)[^&\s]*")


def redact(text: str) -> str:
    """``text`` with the password of each URL in it replaced by ``***``: ``postgresql://user:***@host/db``."""
    return _PARAMETER.sub(r"\1***", _USERINFO.sub(r"\1:***@", text))
