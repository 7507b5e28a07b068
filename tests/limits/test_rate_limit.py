"""The rate-limit middleware through the real app: counting, headers, 429s, windows."""

from __future__ import annotations

from devcapsules.middleware.rate_limit import WindowState, ip_subject, tightest
from tests.limits.conftest import NOON, counter_rows, make_key, make_user, renew_token
from tests.support.faults import FailingD1

ME = "/api/v1/auth/me"
MINUTE_START = NOON - NOON % 60
MIDNIGHT = NOON - NOON % 86_400


def test_success_carries_both_header_forms_for_the_tighter_window(client):
    caller = make_user(client)
    response = client.get(ME, headers=caller.headers)
    assert response.status == 200
    # free: 3/minute, 5/day in these tests -> the minute window (2 left) is tighter.
    assert response.headers["RateLimit-Limit"] == "3"
    assert response.headers["RateLimit-Remaining"] == "2"
    assert response.headers["RateLimit-Reset"] == str(MINUTE_START + 60 - NOON)  # delta
    assert response.headers["X-RateLimit-Limit"] == "3"
    assert response.headers["X-RateLimit-Remaining"] == "2"
    assert response.headers["X-RateLimit-Reset"] == str(MINUTE_START + 60)  # epoch


def test_over_the_minute_limit_is_429_with_retry_after_and_details(client, clock):
    caller = make_user(client)
    for _ in range(3):
        assert client.get(ME, headers=caller.headers).status == 200
    clock.advance(5)
    refused = client.get(ME, headers=caller.headers)
    assert refused.status == 429
    error = refused.json()["error"]
    assert error["code"] == "rate_limited"
    assert error["details"] == {
        "window": "minute",
        "plan": "free",
        "limit": 3,
        "resetAt": "2026-03-01T12:01:00.000Z",
    }
    assert refused.headers["Retry-After"] == "45"
    assert refused.headers["RateLimit-Remaining"] == "0"
    assert refused.headers["RateLimit-Reset"] == "45"
    assert refused.headers["X-RateLimit-Reset"] == str(MINUTE_START + 60)


def test_refused_requests_consume_nothing(client, clock):
    caller = make_user(client)
    for _ in range(3):
        client.get(ME, headers=caller.headers)
    for _ in range(10):
        assert client.get(ME, headers=caller.headers).status == 429
    # Hammering past the minute limit did not eat the day's budget (5): 3 used, not 13.
    assert ("day", MIDNIGHT, 3) in counter_rows(client, caller.id)
    clock.advance(60)
    assert client.get(ME, headers=caller.headers).status == 200


def test_day_window_refuses_with_its_own_details_then_resets_at_utc_midnight(client, clock):
    caller = make_user(client)
    statuses = []
    for _ in range(7):  # 3 per minute, 5 per day: spread over minutes
        statuses.append(client.get(ME, headers=caller.headers).status)
        clock.advance(30)
    assert statuses == [200] * 5 + [429] * 2
    refused = client.get(ME, headers=caller.headers)
    assert refused.json()["error"]["details"]["window"] == "day"
    assert refused.json()["error"]["details"]["resetAt"] == "2026-03-02T00:00:00.000Z"
    assert int(refused.headers["Retry-After"]) == MIDNIGHT + 86_400 - int(clock())
    clock.epoch = MIDNIGHT + 86_400 - 1  # 23:59:59 UTC: still the same day
    renew_token(client, caller)  # the access token lives on the same clock
    assert client.get(ME, headers=caller.headers).status == 429
    clock.epoch = MIDNIGHT + 86_400  # 00:00:00 UTC
    renew_token(client, caller)
    response = client.get(ME, headers=caller.headers)
    assert response.status == 200
    assert response.json()["usage"]["requests"]["day"]["used"] == 1


def test_both_windows_reaching_their_limit_on_one_request_are_both_counted(client, clock):
    # The checks see the state before the request: counting the minute row first must
    # not make the day row's check fail (all-or-nothing, never half a count).
    caller = make_user(client)
    for _ in range(2):
        client.get(ME, headers=caller.headers)
    clock.advance(60)
    for _ in range(3):  # the third: minute 2 -> 3 of 3, day 4 -> 5 of 5
        assert client.get(ME, headers=caller.headers).status == 200
    rows = counter_rows(client, caller.id)
    assert ("minute", MINUTE_START + 60, 3) in rows and ("day", MIDNIGHT, 5) in rows


def test_headers_report_the_day_window_once_it_is_tighter(client, clock):
    caller = make_user(client)
    for _ in range(4):
        client.get(ME, headers=caller.headers)
        clock.advance(60)
    # day: 4 of 5 used (1 left); a fresh minute: 1 of 3 -> day is tighter.
    response = client.get(ME, headers=caller.headers)
    assert response.headers["RateLimit-Limit"] == "5"
    assert response.headers["RateLimit-Remaining"] == "0"
    assert int(response.headers["RateLimit-Reset"]) == MIDNIGHT + 86_400 - int(clock())


def test_on_a_tie_the_window_that_resets_later_is_reported():
    minute = WindowState("minute", 3, 3, reset_at=100)
    day = WindowState("day", 5, 5, reset_at=1000)
    assert tightest([minute, day]) is day
    assert tightest([WindowState("minute", 3, 1, 100), WindowState("day", 5, 1, 1000)]).window == (
        "minute"
    )


def test_api_keys_share_their_owners_budget(client):
    owner = make_user(client)
    key = make_key(client, owner)
    assert client.get(ME, headers=owner.headers).status == 200
    assert client.get(ME, headers=key).status == 200
    assert client.get(ME, headers=key).status == 200
    assert client.get(ME, headers=owner.headers).status == 429
    assert ("minute", MINUTE_START, 3) in counter_rows(client, owner.id)


def test_users_have_separate_budgets(client):
    first, second = make_user(client), make_user(client)
    for _ in range(3):
        client.get(ME, headers=first.headers)
    assert client.get(ME, headers=first.headers).status == 429
    assert client.get(ME, headers=second.headers).status == 200


def test_plan_decides_the_numbers(client):
    creator = make_user(client, "creator")  # 4/minute here
    statuses = [client.get(ME, headers=creator.headers).status for _ in range(5)]
    assert statuses == [200] * 4 + [429]
    assert client.get(ME, headers=creator.headers).json()["error"]["details"]["plan"] == "creator"


def test_enterprise_has_no_daily_cap_and_keeps_no_day_counter(client, clock):
    caller = make_user(client, "enterprise")  # 3/minute here, day unlimited
    for _ in range(10):  # 30 requests: far beyond any other plan's test day (5)
        for _ in range(3):
            response = client.get(ME, headers=caller.headers)
            assert response.status == 200
        clock.advance(60)
    assert response.headers["RateLimit-Limit"] == "3"  # only the minute window exists
    assert {row[0] for row in counter_rows(client, caller.id)} == {"minute"}
    usage = response.json()["usage"]["requests"]["day"]
    assert usage == {"used": None, "limit": None, "remaining": None, "resetAt": usage["resetAt"]}


def test_anonymous_callers_are_limited_per_ip_with_free_numbers(client):
    statuses = [client.get("/nope", client_ip="198.51.100.7").status for _ in range(4)]
    assert statuses == [404, 404, 404, 429]
    refused = client.get("/nope", client_ip="198.51.100.7").json()["error"]
    assert refused["details"]["plan"] == "anonymous" and refused["details"]["limit"] == 3
    assert client.get("/nope", client_ip="198.51.100.8").status == 404


def test_ipv6_is_counted_per_64_and_mapped_ipv4_as_ipv4():
    assert ip_subject("2001:db8:1:2:aaaa::1") == ip_subject("2001:db8:1:2:bbbb::9")
    assert ip_subject("2001:db8:1:2::1") != ip_subject("2001:db8:1:3::1")
    assert ip_subject("2001:db8:1:2::1") == "ip:2001:db8:1:2::/64"
    assert ip_subject("::ffff:192.0.2.1") == ip_subject("192.0.2.1") == "ip:192.0.2.1"
    assert ip_subject(None) == ip_subject("garbage") == "ip:unknown"


def test_error_responses_carry_the_headers_too(client):
    response = client.get("/nope", client_ip="198.51.100.9")
    assert response.status == 404
    assert response.headers["RateLimit-Remaining"] == "2"
    assert response.headers["X-RateLimit-Limit"] == "3"


def test_health_is_not_counted(client):
    for _ in range(10):
        response = client.get("/health", client_ip="198.51.100.10")
        assert response.status == 200
        assert "RateLimit-Limit" not in response.headers
    assert counter_rows(client, "ip:198.51.100.10") == []


def test_deep_health_is_counted(client):
    """?deep=true costs a D1 query and a KV read: anonymous callers are metered."""
    statuses = [client.get("/health?deep=true", client_ip="198.51.100.14").status for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_guessing_keys_is_rate_limited(client):
    statuses = [
        client.get(
            ME, headers={"Authorization": f"Bearer dk_{i:043d}"}, client_ip="198.51.100.15"
        ).status
        for i in range(4)
    ]
    assert statuses == [401, 401, 401, 429]


def test_cors_preflight_is_not_counted_and_429_is_readable_cross_origin(client):
    preflight = {"Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET"}
    for _ in range(10):
        response = client.request("OPTIONS", ME, headers=preflight, client_ip="198.51.100.11")
        assert response.status == 204
        assert "RateLimit-Limit" not in response.headers
    assert counter_rows(client, "ip:198.51.100.11") == []
    origin = {"Origin": "http://localhost:3000"}
    for _ in range(3):
        client.get("/nope", headers=origin, client_ip="198.51.100.11")
    refused = client.get("/nope", headers=origin, client_ip="198.51.100.11")
    assert refused.status == 429
    assert refused.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert "Retry-After" in refused.headers["Access-Control-Expose-Headers"]


def test_invalid_credentials_are_counted_against_the_ip(client):
    """Guessing tokens or keys is metered like any anonymous call, then refused."""
    response = client.get(ME, headers={"Authorization": "Bearer nope"}, client_ip="198.51.100.12")
    assert response.status == 401
    assert response.json()["error"]["code"] == "token_malformed"
    assert "RateLimit-Remaining" in response.headers
    assert counter_rows(client, "ip:198.51.100.12") != []


def test_d1_failure_fails_open_and_is_logged(client, logs):
    client.env.db = FailingD1(client.env.db, r"\busage_counters\b")
    response = client.get("/nope", client_ip="198.51.100.13")
    assert response.status == 404
    assert "RateLimit-Limit" not in response.headers
    assert "rate_limit_unavailable" in logs.actions()


def test_one_d1_round_trip_per_counted_request(client):
    caller = make_user(client)
    client.get("/nope", headers=caller.headers)
    client.settle()  # the caller's plan is cached in KV now (read from D1 once a minute)
    before = client.env.db.round_trips
    client.get("/nope", headers=caller.headers)  # 404: the route itself touches nothing
    assert client.env.db.round_trips - before == 1
