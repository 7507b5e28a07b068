"""Password hashing: PBKDF2-SHA256 in one self-describing format on every host.

Stored as `pbkdf2_sha256$<iterations>$<salt>$<hash>` (salt and hash base64url,
unpadded). The iteration count travels with the hash, so the edge (Web Crypto,
which caps PBKDF2 at 100,000 iterations) and the local host (hashlib) verify each
other's hashes, and the count can be raised later without invalidating old ones.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable

ALGORITHM = "pbkdf2_sha256"
# The most Cloudflare's Web Crypto accepts for PBKDF2 (OWASP asks for more; the cap is
# the platform's, and the format lets us raise the count when the platform does).
DEFAULT_ITERATIONS = 100_000
MAX_ITERATIONS = 100_000
MIN_ITERATIONS = 1_000
SALT_BYTES = 16
HASH_BYTES = 32

Pbkdf2 = Callable[[bytes, bytes, int, int], Awaitable[bytes]]


async def hashlib_pbkdf2(password: bytes, salt: bytes, iterations: int, length: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password, salt, iterations, length)


class PasswordHasher:
    def __init__(self, pbkdf2: Pbkdf2 | None = None, iterations: int = DEFAULT_ITERATIONS):
        if not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
            raise ValueError(f"iterations must be {MIN_ITERATIONS}..{MAX_ITERATIONS}")
        self.pbkdf2 = pbkdf2 or hashlib_pbkdf2
        self.iterations = iterations

    async def hash(self, password: str, salt: bytes | None = None) -> str:
        salt = salt or secrets.token_bytes(SALT_BYTES)
        digest = await self.pbkdf2(password.encode(), salt, self.iterations, HASH_BYTES)
        return f"{ALGORITHM}${self.iterations}${_b64(salt)}${_b64(digest)}"

    async def verify(self, password: str, stored: str) -> bool:
        try:
            algorithm, iterations, salt, expected = stored.split("$")
            rounds = int(iterations)
        except ValueError:
            return False
        if algorithm != ALGORITHM or not MIN_ITERATIONS <= rounds <= MAX_ITERATIONS:
            return False
        expected_bytes = _unb64(expected)
        digest = await self.pbkdf2(password.encode(), _unb64(salt), rounds, len(expected_bytes))
        return hmac.compare_digest(digest, expected_bytes)

    async def verify_missing_user(self, password: str) -> bool:
        """Spend exactly the work of one real verification (one PBKDF2 at the current
        count, against a fixed hash nobody's password produces), and fail."""
        dummy = f"{ALGORITHM}${self.iterations}${_b64(bytes(SALT_BYTES))}${_b64(bytes(HASH_BYTES))}"
        await self.verify(password, dummy)
        return False


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
