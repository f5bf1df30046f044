"""The RFC 7240 ``Prefer`` request header, read the way the RFC asks.

A preference is ``token [= word] *(; parameter)``; names are case-insensitive, a name given twice
counts the first time, and a preference the server does not understand is ignored, never an error.
Whoever honours one names it in ``Preference-Applied`` and varies on ``Prefer``.
"""

from __future__ import annotations

import re

# One comma-separated element: anything up to a comma outside a quoted string.
_ELEMENT = re.compile(r'(?:[^,"]|"(?:[^"\\]|\\.)*")+')
_QUOTED_PAIR = re.compile(r"\\(.)")


def _unquote(word: str) -> str:
    word = word.strip()
    if len(word) >= 2 and word[0] == word[-1] == '"':
        return _QUOTED_PAIR.sub(r"\1", word[1:-1])
    return word


def preferences(header: str) -> dict[str, str]:
    """``{"name": "value"}`` for each preference in a ``Prefer`` value ("" for a bare name).

    Parameters after ``;`` are dropped: no preference of this API takes any.
    """
    found: dict[str, str] = {}
    for element in _ELEMENT.findall(header or ""):
        head = element.split(";", 1)[0]
        name, _, value = head.partition("=")
        name = name.strip().lower()
        if name and name not in found:
            found[name] = _unquote(value)
    return found
