"""POST /api/v1/analytics/events: validation per event, dedupe, partial acceptance."""

from __future__ import annotations

from datetime import timedelta

import pytest

from devcapsules.context import Principal
from devcapsules.services.analytics.ingest import ingest
from tests.analytics.support import EVENTS, event, graded_run, now, post
from tests.capsules.support import create, publish_directly
from tests.support.auth import create_api_key, key_headers


def stored_count(client) -> int:
    db = client.env.db
    return client.run(db.prepare("SELECT count(*) AS n FROM analytics_events").first("n"))


def test_a_clean_batch_is_a_200_with_every_event_accepted(client, owner, capsule):
    events = [
        event(capsule["id"]),
        graded_run(capsule["id"], 2, 3),
        event(capsule["id"], "code_run"),
    ]
    response = post(client, owner.headers, events)
    assert response.status == 200
    assert response.json() == {"success": True, "accepted": 3, "duplicates": 0, "rejected": []}


def test_a_batch_with_refusals_is_a_207_and_keeps_the_good_events(client, owner, capsule):
    good = event(capsule["id"])
    bad = graded_run(capsule["id"], 3, 2)  # passed > total
    response = post(client, owner.headers, [good, bad, "not an object"])
    assert response.status == 207
    body = response.json()
    assert (body["accepted"], body["duplicates"]) == (1, 0)
    assert [(r["index"], r["id"], r["code"]) for r in body["rejected"]] == [
        (1, bad["id"], "invalid_event"),
        (2, None, "invalid_event"),
    ]
    assert "passed must not exceed total" in body["rejected"][0]["message"]
    assert stored_count(client) == 1


def test_all_refused_is_still_a_207_with_nothing_stored(client, owner, capsule):
    response = post(client, owner.headers, [event("cap_missing"), event(capsule["id"], "nope")])
    assert response.status == 207
    assert response.json()["accepted"] == 0
    assert stored_count(client) == 0


@pytest.mark.parametrize(
    "change, path",
    [
        ({"id": ""}, "id"),
        ({"id": "has space"}, "id"),
        ({"id": "x" * 65}, "id"),
        ({"sessionId": "s" * 129}, "sessionId"),
        ({"timestamp": "2026-02-13T12:00:00"}, "timestamp"),  # no timezone
        ({"timestamp": "yesterday"}, "timestamp"),
        ({"type": "page_view"}, "type"),
        ({"extra": 1}, "extra"),
        ({"properties": {"source": "embed", "utm": "x"}}, "utm"),
        ({"properties": {"source": "x" * 33}}, "source"),
    ],
)
def test_invalid_fields_are_refused_per_event_with_their_path(client, owner, capsule, change, path):
    response = post(client, owner.headers, [event(capsule["id"], **change)])
    assert response.status == 207
    rejected = response.json()["rejected"][0]
    assert rejected["code"] == "invalid_event"
    assert path in rejected["message"]


@pytest.mark.parametrize(
    "kind, properties",
    [
        ("test_run", {}),
        ("test_run", {"passed": 1, "total": 0}),
        ("test_run", {"passed": "1", "total": 2}),
        ("hint_revealed", {}),
        ("hint_revealed", {"hintIndex": 100}),
        ("code_run", {"durationMs": -1}),
        ("capsule_completed", {"attempts": -1}),
    ],
)
def test_properties_are_validated_by_type(client, owner, capsule, kind, properties):
    response = post(client, owner.headers, [event(capsule["id"], kind, properties=properties)])
    assert response.status == 207, response.body


def test_valid_properties_per_type_are_accepted(client, owner, capsule):
    cid = capsule["id"]
    events = [
        event(cid, "capsule_view", properties={"source": "embed"}),
        event(cid, "code_run", properties={"language": "python", "durationMs": 12}),
        graded_run(cid, 0, 4),
        event(cid, "capsule_completed", properties={"attempts": 3}),
        event(cid, "hint_revealed", properties={"hintIndex": 0}),
    ]
    assert post(client, owner.headers, events).json()["accepted"] == 5


def test_timestamps_in_the_future_or_past_retention_are_refused(client, owner, capsule):
    cid = capsule["id"]
    events = [
        event(cid, timestamp=(now() + timedelta(minutes=4)).isoformat()),  # clock skew: fine
        event(cid, timestamp=(now() + timedelta(minutes=6)).isoformat()),
        event(cid, timestamp=(now() - timedelta(days=89)).isoformat()),
        event(cid, timestamp=(now() - timedelta(days=91)).isoformat()),
    ]
    body = post(client, owner.headers, events).json()
    assert body["accepted"] == 2
    assert [(r["index"], r["code"]) for r in body["rejected"]] == [
        (1, "timestamp_in_future"),
        (3, "timestamp_too_old"),
    ]


def test_duplicates_within_and_across_requests_are_counted_once(client, owner, capsule):
    first = event(capsule["id"])
    body = post(client, owner.headers, [first, first, event(capsule["id"])]).json()
    assert (body["accepted"], body["duplicates"]) == (2, 1)
    again = post(client, owner.headers, [first, event(capsule["id"])]).json()
    assert (again["accepted"], again["duplicates"], again["rejected"]) == (1, 1, [])
    assert stored_count(client) == 3
    views = client.run(
        client.env.db.prepare("SELECT sum(views) AS n FROM analytics_daily").first("n")
    )
    assert views == 3


def test_the_same_event_id_on_two_capsules_is_two_events(client, owner, capsule):
    second = create(client, owner)
    events = [event(capsule["id"], id="same"), event(second["id"], id="same")]
    assert post(client, owner.headers, events).json()["accepted"] == 2


def test_events_for_unknown_or_unreadable_capsules_are_refused(client, owner, other, capsule):
    private = create(client, other, visibility="private")
    public_draft = create(client, other, visibility="public")
    published = create(client, other, visibility="public")
    publish_directly(client, published["id"])
    events = [
        event(cid) for cid in ("cap_nope", private["id"], public_draft["id"], published["id"])
    ]
    body = post(client, owner.headers, events).json()
    assert body["accepted"] == 1  # someone else's published public capsule: learners report
    assert {r["code"] for r in body["rejected"]} == {"capsule_not_found"}
    assert [r["index"] for r in body["rejected"]] == [0, 1, 2]


def test_a_widget_key_reports_on_its_owners_published_capsules(client, owner, capsule):
    """The capsules module's rule for widget keys: published capsules of the owner."""
    key = create_api_key(client, owner, ["analytics:write"])
    draft = post(client, key_headers(key), [event(capsule["id"])])
    assert draft.json()["rejected"][0]["code"] == "capsule_not_found"
    publish_directly(client, capsule["id"])
    response = post(client, key_headers(key), [event(capsule["id"])])
    assert response.status == 200
    assert response.json()["accepted"] == 1


def test_credentials_and_scopes_are_required(client, owner, capsule):
    assert post(client, {}, [event(capsule["id"])]).status == 401
    key = create_api_key(client, owner, ["analytics:read", "capsules:read"])
    response = post(client, key_headers(key), [event(capsule["id"])])
    assert response.status == 403
    assert response.json()["error"]["code"] == "insufficient_scope"


@pytest.mark.parametrize(
    "body",
    [{}, {"events": []}, {"events": "x"}, {"events": [{}] * 101}, {"events": [], "more": 1}],
)
def test_an_invalid_envelope_is_a_422_and_stores_nothing(client, owner, body):
    response = client.post(EVENTS, json=body, headers=owner.headers)
    assert response.status == 422
    assert stored_count(client) == 0


def test_malformed_json_is_a_400(client, owner):
    response = client.request(
        "POST", EVENTS, body=b"{nope", headers={**owner.headers, "content-type": "application/json"}
    )
    assert response.status == 400


def test_a_full_batch_costs_two_d1_round_trips(client, owner, capsule):
    """One capsule lookup and one batch, whatever the number of events (100 here)."""
    others = [create(client, owner)["id"] for _ in range(3)]
    ids = [capsule["id"], *others]
    items = [event(ids[n % 4], "capsule_view", sessionId=f"s{n}") for n in range(100)]
    principal = Principal(user_id=owner.id, plan="free")
    options = client.app.settings.analytics
    before = client.env.db.round_trips
    result = client.run(ingest(client.env.db, options, principal, items, now()))
    assert result.accepted == 100
    assert client.env.db.round_trips - before == 2


def test_session_ids_are_stored_hashed_outside_the_event_rows(client, owner, capsule):
    post(client, owner.headers, [event(capsule["id"], sessionId="learner-42")])
    hashes = client.run(client.env.db.prepare("SELECT session_hash FROM analytics_sessions").all())[
        "results"
    ]
    assert len(hashes) == 1
    assert "learner-42" not in hashes[0]["session_hash"]
    assert len(hashes[0]["session_hash"]) == 32
