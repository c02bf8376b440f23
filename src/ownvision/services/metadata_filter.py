"""The `$filter` expressions of GetImages/GetImageCount over image metadata.

Grammar (OData subset, as the swagger documents it)::

    expr   := term ("or" term)*
    term   := factor ("and" factor)*
    factor := "(" expr ")" | KEY ("eq" | "ne") 'VALUE'

Keys are bare words (letters, digits, ``_ - .``) or quoted; values are single-quoted, with ``''`` for a
quote. ``key ne 'v'`` holds when the image has no such key or another value. An expression holds at
most ``MAX_COMPARISONS`` comparisons and ``MAX_DEPTH`` nested parentheses (each comparison is a SQL
subquery; SQLite bounds the depth of an expression).

    >>> parse("color eq 'red' and size ne 'xl'")
    And(Cmp('color', 'eq', 'red'), Cmp('size', 'ne', 'xl'))
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, not_, or_, select

from .. import errors
from ..db.tables import Image, ImageMetadata

MAX_COMPARISONS = 64
MAX_DEPTH = 16

_TOKEN = re.compile(r"\s*(?:(\()|(\))|'((?:[^']|'')*)'|([A-Za-z0-9_.\-:/]+))")


@dataclass(frozen=True)
class Cmp:
    key: str
    op: str
    value: str


@dataclass(frozen=True)
class And:
    left: Any
    right: Any


@dataclass(frozen=True)
class Or:
    left: Any
    right: Any


def _bad(message: str) -> errors.BadRequest:
    return errors.BadRequest("BadRequestInvalid", f"Invalid $filter: {message}")


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise _bad(f"unexpected text at position {pos}: {text[pos:pos + 20]!r}")
        if m.group(1):
            out.append(("(", "("))
        elif m.group(2):
            out.append((")", ")"))
        elif m.group(3) is not None:
            out.append(("str", m.group(3).replace("''", "'")))
        else:
            word = m.group(4)
            low = word.lower()
            out.append((low, word) if low in ("and", "or", "eq", "ne") else ("word", word))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.t = tokens
        self.i = 0
        self.depth = 0
        self.comparisons = 0

    def peek(self) -> str | None:
        return self.t[self.i][0] if self.i < len(self.t) else None

    def take(self, kind: str) -> str:
        if self.peek() != kind:
            found = self.t[self.i][1] if self.i < len(self.t) else "end of expression"
            raise _bad(f"expected {kind!r}, found {found!r}")
        v = self.t[self.i][1]
        self.i += 1
        return v

    def expr(self) -> Any:
        node = self.term()
        while self.peek() == "or":
            self.i += 1
            node = Or(node, self.term())
        return node

    def term(self) -> Any:
        node = self.factor()
        while self.peek() == "and":
            self.i += 1
            node = And(node, self.factor())
        return node

    def factor(self) -> Any:
        if self.peek() == "(":
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise _bad(f"parentheses nested deeper than {MAX_DEPTH}")
            self.i += 1
            node = self.expr()
            self.take(")")
            self.depth -= 1
            return node
        key = self.take("str") if self.peek() == "str" else self.take("word")
        op = self.peek()
        if op not in ("eq", "ne"):
            raise _bad(f"expected 'eq' or 'ne' after {key!r}")
        self.i += 1
        self.comparisons += 1
        if self.comparisons > MAX_COMPARISONS:
            raise _bad(f"more than {MAX_COMPARISONS} comparisons")
        return Cmp(key, op, self.take("str"))


def parse(text: str) -> Any:
    if len(text) > 4096:
        raise _bad("expression too long")
    p = _Parser(_tokens(text))
    node = p.expr()
    if p.peek() is not None:
        raise _bad(f"unexpected {p.t[p.i][1]!r}")
    return node


def to_sql(node: Any, image_id_col: Any = Image.id) -> Any:
    """A SQL condition on images for the parsed expression."""
    if isinstance(node, And):
        return and_(to_sql(node.left, image_id_col), to_sql(node.right, image_id_col))
    if isinstance(node, Or):
        return or_(to_sql(node.left, image_id_col), to_sql(node.right, image_id_col))
    match = exists(
        select(ImageMetadata.image_id).where(
            ImageMetadata.image_id == image_id_col,
            ImageMetadata.key == node.key,
            ImageMetadata.value == node.value,
        )
    )
    return match if node.op == "eq" else not_(match)


def condition(text: str | None) -> Any | None:
    if text is None or not text.strip():
        return None
    return to_sql(parse(text))


__all__ = ["And", "Cmp", "Or", "condition", "parse", "to_sql"]
