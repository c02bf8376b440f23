"""Accounts stand in for Azure resources: each has a training key and a prediction key.

Keys are 32 hex characters, like Azure's. Only their SHA-256 is stored: they are random 128-bit
values, so a fast hash is safe, and it lets a key be looked up by its hash in one index probe.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .. import errors
from ..db.tables import Account, utcnow
from .context import Context


@dataclass(frozen=True)
class AccountKeys:
    id: uuid.UUID
    name: str
    training_key: str
    prediction_key: str


@dataclass(frozen=True)
class AccountInfo:
    id: uuid.UUID
    name: str
    created: datetime
    training_key_fingerprint: str
    prediction_key_fingerprint: str


def hash_key(key: str) -> str:
    return hashlib.sha256(key.strip().encode()).hexdigest()


def _new_key() -> str:
    return secrets.token_hex(16)


def _info(a: Account) -> AccountInfo:
    return AccountInfo(a.id, a.name, a.created, a.training_key_hash[:8], a.prediction_key_hash[:8])


def create_account(ctx: Context, *, name: str) -> AccountKeys:
    name = name.strip()
    if not name or len(name) > 128:
        raise errors.BadRequest("BadRequest", "An account name must have 1 to 128 characters.")
    tk, pk = _new_key(), _new_key()
    try:
        with ctx.db.write() as s:
            acc = Account(name=name, training_key_hash=hash_key(tk), prediction_key_hash=hash_key(pk))
            s.add(acc)
            s.flush()
            acc_id = acc.id
    except IntegrityError as exc:
        raise errors.Conflict("Conflict", f"An account named {name!r} already exists.") from exc
    return AccountKeys(acc_id, name, tk, pk)


def list_accounts(ctx: Context) -> list[AccountInfo]:
    with ctx.db.read() as s:
        return [_info(a) for a in s.scalars(select(Account).order_by(Account.created))]


def count_accounts(ctx: Context) -> int:
    return len(list_accounts(ctx))


def rotate_keys(ctx: Context, *, name: str) -> AccountKeys:
    tk, pk = _new_key(), _new_key()
    with ctx.db.write() as s:
        acc = s.scalar(select(Account).where(Account.name == name))
        if acc is None:
            raise errors.NotFound("NotFound", f"No account named {name!r}.")
        acc.training_key_hash, acc.prediction_key_hash = hash_key(tk), hash_key(pk)
        acc.keys_rotated = utcnow()
        return AccountKeys(acc.id, acc.name, tk, pk)


def authenticate(ctx: Context, *, key: str | None, kind: str) -> uuid.UUID:
    """Return the account id that ``key`` belongs to (kind: "training" or "prediction")."""
    # Custom Vision has no "Unauthorized" code: a caller without a key is an unidentified user, one
    # with an unknown key a user that does not exist.
    header = "Training-Key" if kind == "training" else "Prediction-Key"
    if not key or not key.strip():
        raise errors.Unauthorized(
            "ForbiddenUser", f"Access denied: the {header} header is missing. Send a valid key."
        )
    column = Account.training_key_hash if kind == "training" else Account.prediction_key_hash
    with ctx.db.read() as s:
        acc_id = s.scalar(select(Account.id).where(column == hash_key(key)))
    if acc_id is None:
        raise errors.Unauthorized("ForbiddenUserDoesNotExist", f"Access denied: the {header} is not valid.")
    return acc_id
