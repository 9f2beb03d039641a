"""Names that print alike: spellings a reader cannot tell apart on screen are shown
with their code points.

``café`` written with U+00E9 and ``café`` written as ``e`` + U+0301 look the same in
every font, and a store that normalises Unicode (or folds case) merges them into one
key. A report that said "current/café/home holds the manifest of café/home" would read
as nonsense, so wherever two distinct words of a report are equal after NFC
normalisation and case folding, each is printed with its code points:
``café (c a f e U+0301)``, ``café (c a f U+00E9)``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

__all__ = ["Lookalikes", "code_points", "marked"]

#: a word of a key or a message: what lies between separators of paths, lists and sentences
_WORD = re.compile(r"[^\s/'\"(),\[\]{}:;<>=|`*]+")
#: a key or a tenant/surface pair: only the words of these are names (prose words that
#: differ in case, "Store" and "store", are no lookalikes)
_PATH = re.compile(r"[^\s'\"(),\[\]{}<>=|`]*/[^\s'\"(),\[\]{}<>=|`]*")


def code_points(word: str) -> str:
    """``c a f U+00E9``: printable ASCII as itself, anything else as U+XXXX, joined by
    no-break spaces (a log or terminal that wraps the line keeps them together)."""
    return "\u00a0".join(ch if " " < ch < "\x7f" else f"U+{ord(ch):04X}" for ch in word)


def marked(word: str) -> str:
    """``café (c a f U+00E9)``, held together by no-break spaces."""
    return f"{word}\u00a0({code_points(word)})"


def _fold(word: str) -> str:
    return unicodedata.normalize("NFC", word).casefold()


class Lookalikes:
    """The words of one report that have another spelling in it differing only by
    Unicode normalisation or case; ``mark`` annotates them wherever they are shown."""

    def __init__(self, texts: Iterable[str]) -> None:
        spellings: dict[str, set[str]] = {}
        for text in texts:
            for path in _PATH.findall(text or ""):
                for word in _WORD.findall(path):
                    spellings.setdefault(_fold(word), set()).add(word)
        self.words = {word: marked(word)
                      for group in spellings.values() if len(group) > 1 for word in group}

    def __bool__(self) -> bool:
        return bool(self.words)

    def mark(self, text: str) -> str:
        """``text`` with every lookalike word followed by its code points."""
        if not self.words or not text:
            return text
        return _WORD.sub(lambda m: self.words.get(m.group(0), m.group(0)), text)
