"""Signed, expiring links to blobs, so that plain HTTP clients can download images without keys.

A link is ``/blobs/<key>?se=<expiry unix time>&sig=<HMAC-SHA256(secret, key|expiry)>``. A link
to a deleted blob answers 404: the signature proves the server made the link, not that the blob
still exists.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from functools import lru_cache
from urllib.parse import quote

# Blob keys made by the server (ids, '/', '.', '-') need no quoting.
_URL_SAFE = re.compile(r"[A-Za-z0-9._/-]+")


class LinkSigner:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        # Keyed once; each signature copies the keyed state. A page of 256 images signs 768 links, and
        # the expiry is rounded to the hour, so repeated listings mostly find their signatures cached.
        self._keyed = hmac.new(secret, digestmod=hashlib.sha256)
        self._sig = lru_cache(maxsize=65536)(self._compute_sig)

    def _compute_sig(self, key: str, expiry: int) -> str:
        mac = self._keyed.copy()
        mac.update(f"{key}|{expiry}".encode())
        return mac.hexdigest()[:32]

    def sign(self, base_url: str, key: str, ttl_seconds: int) -> str:
        # Round the expiry so that repeated listings within an hour return identical URLs.
        expiry = (int(time.time()) // 3600 + 1) * 3600 + ttl_seconds
        path = key if _URL_SAFE.fullmatch(key) else quote(key)
        return f"{base_url.rstrip('/')}/blobs/{path}?se={expiry}&sig={self._sig(key, expiry)}"

    def mac(self, purpose: str, message: str) -> str:
        """HMAC-SHA256 of ``message`` for a use other than links; ``purpose`` keeps the uses apart."""
        return hmac.new(self._secret, f"{purpose}\0{message}".encode(), hashlib.sha256).hexdigest()

    def verify(self, key: str, expiry: str, sig: str) -> bool:
        try:
            exp = int(expiry)
        except ValueError:
            return False
        if exp < time.time():
            return False
        return hmac.compare_digest(self._sig(key, exp), sig)
