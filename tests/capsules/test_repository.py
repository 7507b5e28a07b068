"""The repository's own rules: cursors, LIKE escaping, JSON columns checked on the way out."""

from __future__ import annotations

import pytest

from devcapsules.schemas.capsules import CapsuleCreate
from devcapsules.services import capsules as repository
from devcapsules.services.cursors import InvalidCursor, decode_cursor, encode_cursor
from tests.capsules.support import capsule_body


def test_cursor_round_trip_and_opacity():
    cursor = encode_cursor("2026-01-01T00:00:00.000Z", "cap_abc")
    assert "=" not in cursor and "/" not in cursor and "+" not in cursor
    assert decode_cursor(cursor) == ("2026-01-01T00:00:00.000Z", "cap_abc")


@pytest.mark.parametrize("cursor", ["", "!!!", "e30", "WzEsMl0"])  # -, junk, {}, [1,2]
def test_foreign_cursors_are_refused(cursor):
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor)


def test_escape_like():
    assert repository.escape_like("50%_a\\b") == "50\\%\\_a\\\\b"


def test_corrupt_json_columns_are_reported_not_served(client, owner):
    db = client.env.db
    content = CapsuleCreate.model_validate(capsule_body())
    capsule = client.run(
        repository.create(
            db,
            owner.id,
            content,
            capsule_id=client.app.deps.ids.new("cap"),
            now=client.app.deps.clock.now(),
        )
    )
    client.run(
        db.prepare("UPDATE capsules SET test_cases = ? WHERE id = ?")
        .bind('[{"input": 1}]', capsule.id)
        .run()
    )
    with pytest.raises(repository.CorruptRow):
        client.run(repository.get(db, capsule.id))


def test_generation_can_create_generated_capsules(client, owner):
    content = CapsuleCreate.model_validate(capsule_body())
    capsule = client.run(
        repository.create(
            client.env.db,
            owner.id,
            content,
            source="generated",
            generation_job_id="gen_1_abcd1234",
            quality_score=0.875,
            capsule_id=client.app.deps.ids.new("cap"),
            now=client.app.deps.clock.now(),
        )
    )
    stored = client.run(repository.get(client.env.db, capsule.id))
    assert (stored.source, stored.generation_job_id, stored.quality_score) == (
        "generated",
        "gen_1_abcd1234",
        0.875,
    )
    assert stored.status == "draft"
