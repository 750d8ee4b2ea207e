"""Text from a spec, a file or Prometheus made safe to print on a terminal line.

Every character that is not printable (control characters such as a newline or ESC, which
starts ANSI escape sequences; bidirectional overrides; line separators) is shown as its
Python escape (`\\n`, `\\x1b`, `\\u202e`), so printed text can neither forge a line nor
recolour, move or hide anything. Printable text, accents and scripts included, is kept.
"""

from __future__ import annotations


def printable(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escaped(c) for c in text)


def _escaped(character: str) -> str:
    code = ord(character)
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(character)
    if named:
        return named
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
