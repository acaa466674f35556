"""Keyset ("cursor") paging: a page starts after, or ends before, the position of a row, never at an offset.

A ``Keyset`` is an order over keys that together are unique and never NULL in SQL (a nullable column is
ordered through an expression that stands in for NULL, e.g. ``COALESCE(scheduled_at, 'infinity')``), all
in one direction, so "after this row" is one row comparison ``(k1, k2, k3) < (v1, v2, v3)`` that an index on
the same keys answers by seeking, however deep the page. Pages cost the same on the first page and the
thousandth; nothing counts the whole set.

A cursor only encodes a position (the key values of a row and a direction). It selects nothing by itself:
the queryset it is applied to is already scoped to the caller, so a made-up cursor can only land somewhere
within the caller's own rows.
"""

import base64
import binascii
import datetime
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import F
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan

MAX_CURSOR_LENGTH = 512


class InvalidCursor(ValueError):
    """A cursor that was not made by this order: junk, truncated, or for another list."""


@dataclass(frozen=True)
class Key:
    """One key of the order: a model field, or an expression given a name (used as a query alias)."""

    name: str
    kind: str  # "moment", "uuid" or "text": how the value is written into and read back from a cursor
    expression: Any = None  # None: the model field called ``name``
    read: Callable | None = None  # the row's value for this key; None means ``getattr(row, name)``
    null_as: Any = None  # for an expression over a nullable column: the SQL value that stands for None

    def value_of(self, row):
        return self.read(row) if self.read is not None else getattr(row, self.name)

    def encode(self, value):
        if value is None:
            if self.null_as is None:
                raise ValueError(f"{self.name} has no value")
            return None
        return value.isoformat() if self.kind == "moment" else str(value)

    def decode(self, raw):
        if raw is None:
            if self.null_as is None:
                raise InvalidCursor(f"{self.name} is missing")
            return self.null_as
        if not isinstance(raw, str) or len(raw) > 64:
            raise InvalidCursor(f"{self.name} is not readable")
        try:
            if self.kind == "moment":
                value = datetime.datetime.fromisoformat(raw)
                if value.tzinfo is None:
                    raise InvalidCursor(f"{self.name} has no UTC offset")
                return value
            if self.kind == "uuid":
                return uuid.UUID(raw)
        except ValueError:
            raise InvalidCursor(f"{self.name} is not readable") from None
        if "\x00" in raw:
            raise InvalidCursor(f"{self.name} is not readable")
        return raw


@dataclass
class Page:
    rows: list
    next: str | None = None  # cursor of the page after this one (older, for a newest-first list)
    previous: str | None = None  # cursor of the page before this one
    at_start: bool = field(default=True)  # no cursor was given: this is the first page


@dataclass(frozen=True)
class Keyset:
    """A unique order over ``keys``, descending by default (newest first)."""

    keys: tuple[Key, ...]
    descending: bool = True
    tag: str = ""  # written into each cursor, so one list's cursor is refused by another

    def ordered(self, queryset, *, reverse=False):
        aliases = {k.name: k.expression for k in self.keys if k.expression is not None}
        if aliases:
            queryset = queryset.alias(**aliases)
        down = self.descending != reverse
        return queryset.order_by(*[F(k.name).desc() if down else F(k.name).asc() for k in self.keys])

    # ------------------------------------------------------------------ cursors

    def cursor(self, row, *, before=False):
        """The cursor of the page after ``row`` (or, with ``before``, of the page ending just before it)."""
        return self._write([k.encode(k.value_of(row)) for k in self.keys], before=before)

    def _write(self, values, *, before):
        body = {"t": self.tag, "d": "b" if before else "a", "k": values}
        return base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode().rstrip("=")

    def read_cursor(self, token):
        """(before?, position values); InvalidCursor for anything this order did not write."""
        if not isinstance(token, str) or not token or len(token) > MAX_CURSOR_LENGTH or not token.isascii():
            raise InvalidCursor("not a cursor")
        try:
            body = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise InvalidCursor("not a cursor") from None
        if (not isinstance(body, dict) or body.get("t") != self.tag or body.get("d") not in ("a", "b")
                or not isinstance(body.get("k"), list) or len(body["k"]) != len(self.keys)):
            raise InvalidCursor("not a cursor of this list")
        return body["d"] == "b", [key.decode(raw) for key, raw in zip(self.keys, body["k"], strict=True)]

    # ------------------------------------------------------------------ pages

    def page(self, queryset, *, cursor=None, size):
        """One page of ``queryset`` in this order: ``size`` rows after (or before) the cursor's position."""
        before, position = self.read_cursor(cursor) if cursor is not None else (False, None)
        rows = self.ordered(queryset, reverse=before)
        if position is not None:
            # "After" in a descending order is "less than"; "before" is the other way round.
            lookup = TupleLessThan if self.descending != before else TupleGreaterThan
            rows = rows.filter(lookup(Tuple(*[F(k.name) for k in self.keys]), position))
        rows = list(rows[:size + 1])
        more = len(rows) > size
        rows = rows[:size]
        if before:
            rows.reverse()
        page = Page(rows=rows, at_start=cursor is None)
        if not rows:
            # Past either end: offer the way back to where the cursor pointed.
            if position is not None:
                page.previous = None if before else self._token(position, before=True)
                page.next = self._token(position, before=False) if before else None
            return page
        first, last = rows[0], rows[-1]
        if before:
            page.previous = self.cursor(first, before=True) if more else None
            page.next = self.cursor(last)
        else:
            page.next = self.cursor(last) if more else None
            page.previous = self.cursor(first, before=True) if position is not None else None
        return page

    def _token(self, position, *, before):
        return self._write([None if v is k.null_as else k.encode(v) for k, v in zip(self.keys, position, strict=True)],
                           before=before)
