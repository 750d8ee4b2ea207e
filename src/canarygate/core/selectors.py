"""The series a journey's SLI reads: the vector selectors of its `{{window}}` template, found
lexically, so that the age of their newest sample can be asked for (`core.freshness`).

Two shapes are recognised, the ones the CRD's `{{window}}` rule makes usual:
- a range selector over the window: `metric{labels}[{{window}}]`, `{__name__="m"}[{{window}}]`
  or `metric[{{window}}]` (a subquery over an expression, `(...)[{{window}}:]`, names none);
- a recorded series named per window: `slo:sli_error:ratio_rate{{window}}{labels}`.

Strings and comments are whole tokens, so a brace or a placeholder inside a label value is
never mistaken for syntax. Anything not recognised is left out: freshness is then "not
measured" for that journey, never guessed.
"""

from __future__ import annotations

import re

from canarygate.core.templating import render

_TOKEN = re.compile(
    r"""(?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`[^`]*`)"""
    r"""|(?P<comment>\#[^\n]*)"""
    r"""|(?P<placeholder>\{\{\s*(?P<variable>[A-Za-z_][A-Za-z0-9_]*)?\s*\}\})"""
    r"""|(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)"""
    r"""|(?P<space>\s+)"""
    r"""|(?P<other>.)""",
    re.DOTALL,
)
# Words that precede a parenthesis or a label list without being a metric name.
_KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool"}
)
_Token = tuple[str, str, int, int]  # (kind, text, start, end)


def _tokens(template: str) -> list[_Token]:
    found: list[_Token] = []
    for match in _TOKEN.finditer(template):
        kind = match.lastgroup or "other"
        if kind == "variable":
            kind = "placeholder"
        if kind not in ("space", "comment"):
            found.append((kind, match.group(), match.start(), match.end()))
    return found


def window_selectors(template: str, window: str, interval: str) -> tuple[str, ...]:
    """Each distinct vector selector `template` reads over `{{window}}`, rendered with
    `window` and `interval`, in order of appearance."""
    tokens = _tokens(template)
    found: list[str] = []
    for index, (kind, text, _, _) in enumerate(tokens):
        if kind != "placeholder" or _variable(text) != "window":
            continue
        span = _range_selector(tokens, index) or _named_per_window(tokens, index)
        if span is not None:
            selector = render(template[span[0] : span[1]], {"window": window, "interval": interval})
            if selector not in found:
                found.append(selector)
    return tuple(found)


def _variable(placeholder: str) -> str:
    return placeholder.strip("{} \t\n")


def _range_selector(tokens: list[_Token], index: int) -> tuple[int, int] | None:
    """`<selector>[{{window}}]`: the span of `<selector>`."""
    if index < 2 or tokens[index - 1][1] != "[":
        return None
    close = index + 1
    if close >= len(tokens) or tokens[close][1] != "]":
        return None  # a subquery (`[{{window}}:1m]`) or something else: no selector of ours
    return _selector_ending_at(tokens, index - 2)


def _named_per_window(tokens: list[_Token], index: int) -> tuple[int, int] | None:
    """`name{{window}}{labels}`: a metric name glued to the placeholder, then labels."""
    if index < 1:
        return None
    kind, text, start, end = tokens[index - 1]
    if kind != "name" or end != tokens[index][2] or text in _KEYWORDS:
        return None
    stop = tokens[index][3]
    after = index + 1
    if after < len(tokens) and tokens[after][1] == "{" and tokens[after][2] == stop:
        closing = _matching_brace(tokens, after)
        if closing is None:
            return None
        stop = tokens[closing][3]
    elif after < len(tokens) and tokens[after][0] in ("name", "placeholder", "string"):
        return None  # the name goes on: not a name we can read
    return start, stop


def _selector_ending_at(tokens: list[_Token], last: int) -> tuple[int, int] | None:
    """The span of the selector whose last token is `tokens[last]`: `name`, `{...}` or
    `name{...}`."""
    kind, text, start, end = tokens[last]
    if kind == "name":
        return None if text in _KEYWORDS else (start, end)
    if text != "}":
        return None
    depth = 0
    for position in range(last, -1, -1):
        symbol = tokens[position][1]
        if tokens[position][0] != "other":
            continue
        if symbol == "}":
            depth += 1
        elif symbol == "{":
            depth -= 1
            if depth == 0:
                before = position - 1
                if (
                    before >= 0
                    and tokens[before][0] == "name"
                    and tokens[before][1] not in _KEYWORDS
                ) and tokens[before][3] == tokens[position][2]:
                    return tokens[before][2], end
                return tokens[position][2], end
    return None


def _matching_brace(tokens: list[_Token], opening: int) -> int | None:
    depth = 0
    for position in range(opening, len(tokens)):
        if tokens[position][0] != "other":
            continue
        if tokens[position][1] == "{":
            depth += 1
        elif tokens[position][1] == "}":
            depth -= 1
            if depth == 0:
                return position
    return None


# The range functions whose answer over a window is the sum of their answers over the
# pieces of that window (an event count, or a per-second average of one), by what they give.
_ADDITIVE = {"rate": "per-second", "increase": "events"}


def additive_unit(template: str) -> str | None:
    """`"per-second"` or `"events"` when `template` is a sum of `rate(...)` (or of
    `increase(...)`) of selectors over `{{window}}`, and nothing else: `sum(rate(m{l="v"}[
    {{window}}]))`, `rate(m[{{window}}]) + rate(n[{{window}}])`. Such a query answers, over a
    window, the events of that window (or their average per second), so its answer over a
    window can be bounded by its answers over the window's pieces (`core.slow_windows`).
    Anything else (another function, `by`, `offset`, a subquery, arithmetic other than `+`,
    a constant) gives None: no bound is claimed for it."""
    tokens = _tokens(template)
    units: set[str] = set()
    index = 0
    while index < len(tokens):
        kind, text, _, _ = tokens[index]
        if kind == "name" and text in _ADDITIVE:
            after = _additive_call_end(tokens, index)
            if after is None:
                return None
            units.add(_ADDITIVE[text])
            index = after
            continue
        if not ((kind == "name" and text == "sum") or (kind == "other" and text in "()+")):
            return None
        index += 1
    return units.pop() if len(units) == 1 else None


def _additive_call_end(tokens: list[_Token], index: int) -> int | None:
    """`rate ( <selector> [ {{window}} ] )` from `tokens[index]`: the index after it."""
    position = index + 1
    if position >= len(tokens) or tokens[position][1] != "(":
        return None
    position += 1
    if position < len(tokens) and tokens[position][0] == "name":
        if tokens[position][1] in _KEYWORDS:
            return None
        position += 1
    if position < len(tokens) and tokens[position][1] == "{":
        closing = _matching_brace(tokens, position)
        if closing is None:
            return None
        position = closing + 1
    if position == index + 2:
        return None  # no selector
    following = tokens[position : position + 4]
    shape = [_variable(t[1]) if t[0] == "placeholder" else t[1] for t in following]
    if shape != ["[", "window", "]", ")"]:
        return None
    return position + 4
