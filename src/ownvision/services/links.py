"""Signed, expiring links to blobs, so that plain HTTP clients can download images without keys.

A link is ``/blobs/<key>?se=<expiry unix time>&sig=<HMAC-SHA256(secret, key|expiry)>``. A link
to a deleted blob answers 404: the signature proves the server made the link, not that the blob
still exists.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import quote


class LinkSigner:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _sig(self, key: str, expiry: int) -> str:
        msg = f"{key}|{expiry}".encode()
        return hmac.new(self._secret, msg, hashlib.sha256).hexdigest()[:32]

    def sign(self, base_url: str, key: str, ttl_seconds: int) -> str:
        # Round the expiry so that repeated listings within an hour return identical URLs.
        expiry = (int(time.time()) // 3600 + 1) * 3600 + ttl_seconds
        return f"{base_url.rstrip('/')}/blobs/{quote(key)}?se={expiry}&sig={self._sig(key, expiry)}"

    def verify(self, key: str, expiry: str, sig: str) -> bool:
        try:
            exp = int(expiry)
        except ValueError:
            return False
        if exp < time.time():
            return False
        return hmac.compare_digest(self._sig(key, exp), sig)
