import asyncio
import hashlib

from devcapsules.services.accounts.passwords import DEFAULT_ITERATIONS, PasswordHasher


def run(awaitable):
    return asyncio.run(awaitable)


def test_format_is_self_describing_with_the_default_iterations():
    stored = run(PasswordHasher().hash("hunter22", salt=b"0123456789abcdef"))
    algorithm, iterations, _salt, _digest = stored.split("$")
    assert algorithm == "pbkdf2_sha256"
    assert int(iterations) == DEFAULT_ITERATIONS == 100_000
    assert run(PasswordHasher().verify("hunter22", stored))
    assert not run(PasswordHasher().verify("hunter23", stored))


def test_hash_from_another_backend_verifies():
    """A hash made by a different PBKDF2 implementation (the edge's Web Crypto) verifies."""

    async def other_backend(password, salt, iterations, length):
        # An independent PBKDF2-HMAC-SHA256 written from RFC 8018, standing in for Web Crypto.
        import hmac

        block = hmac.new(password, salt + b"\x00\x00\x00\x01", hashlib.sha256).digest()
        result = bytearray(block)
        for _ in range(iterations - 1):
            block = hmac.new(password, block, hashlib.sha256).digest()
            result = bytearray(a ^ b for a, b in zip(result, block, strict=True))
        return bytes(result[:length])

    edge = PasswordHasher(pbkdf2=other_backend, iterations=2_000)
    local = PasswordHasher(iterations=50_000)
    stored = run(edge.hash("pässwörd"))
    assert run(local.verify("pässwörd", stored))  # the count comes from the stored hash
    assert run(edge.verify("pässwörd", run(local.hash("pässwörd"))))


def test_garbage_hashes_never_verify():
    hasher = PasswordHasher(iterations=1_000)
    for stored in ["", "x", "md5$1$a$b", "pbkdf2_sha256$99999999$a$b", "pbkdf2_sha256$x$a$b"]:
        assert not run(hasher.verify("anything", stored))


def test_missing_user_path_does_the_same_work():
    calls = []

    async def counting(password, salt, iterations, length):
        calls.append(iterations)
        return hashlib.pbkdf2_hmac("sha256", password, salt, iterations, length)

    hasher = PasswordHasher(pbkdf2=counting, iterations=1_000)
    stored = run(hasher.hash("pw"))
    calls.clear()
    run(hasher.verify("pw", stored))
    real = list(calls)
    calls.clear()
    assert run(hasher.verify_missing_user("pw")) is False
    assert calls == real  # one PBKDF2 of the same count: a miss costs what a hit costs
