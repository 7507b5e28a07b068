"""Opaque keyset cursors for lists ordered by (created_at DESC, id DESC).

A cursor is the base64url (unpadded) JSON of the last row's sort key. Keyset paging,
unlike OFFSET, neither repeats nor skips rows when new rows are inserted between pages:
new rows sort before the cursor, so later pages never see them.
"""

from __future__ import annotations

import base64
import binascii
import json


class InvalidCursor(ValueError):
    """The cursor was not made by this API (HTTP: 422 on `cursor`)."""


def encode_cursor(created_at: str, row_id: str) -> str:
    raw = json.dumps([created_at, row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, row_id = json.loads(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
        raise InvalidCursor("not a cursor returned by this API") from None
    if not isinstance(created_at, str) or not isinstance(row_id, str):
        raise InvalidCursor("not a cursor returned by this API")
    return created_at, row_id
