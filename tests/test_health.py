import pytest

from devcapsules.bindings.env import Env


def test_health_is_cheap_liveness(client, env):
    before = env.db.round_trips, env.kv.round_trips
    response = client.get("/health")
    body = response.json()
    assert response.status == 200
    assert body["success"] is True and body["status"] == "ok"
    assert body["environment"] == "development" and body["version"]
    assert (env.db.round_trips, env.kv.round_trips) == before


def test_deep_health_checks_every_binding(client, env):
    response = client.get("/health?deep=true")
    checks = response.json()["checks"]
    assert response.status == 200
    assert {name: check["ok"] for name, check in checks.items()} == {
        "d1": True,
        "d1_write": True,
        "kv": True,
        "queue": True,
        "sandbox": True,  # the local backend runs code in this process
    }


def test_deep_health_never_writes_kv(client, env):
    client.get("/health?deep=true")
    listed = client.run(env.kv.list())
    assert listed["keys"] == []


def test_deep_health_names_the_failed_check(client, env):
    client.env = Env(vars=env.vars, db=env.db, kv=env.kv, generation_queue=None)
    response = client.get("/health?deep=1")
    error = response.json()["error"]
    assert response.status == 503
    assert error["code"] == "health_check_failed"
    assert error["message"] == "Failed checks: queue"
    assert error["details"]["checks"]["d1"]["ok"] is True


@pytest.mark.sqlite_only
def test_deep_health_reports_a_broken_database(client, env):
    env.db.close()
    response = client.get("/health?deep=true")
    assert response.status == 503
    assert "d1" in response.json()["error"]["message"]


@pytest.mark.sqlite_only
def test_deep_health_does_not_echo_exception_text(client, env, logs):
    env.db.close()
    body = client.get("/health?deep=true").json()
    check = body["error"]["details"]["checks"]["d1"]
    assert check == {"ok": False, "error": "d1 is unavailable (see logs)"}
    assert any(line["action"] == "health_check_failed" for line in logs.lines)


@pytest.mark.sqlite_only
def test_deep_health_checks_the_write_path(client, env):
    # A database that still answers reads but refuses writes (full, read-only...).
    env.db.connection.execute("PRAGMA query_only = ON")
    response = client.get("/health?deep=true")
    error = response.json()["error"]
    assert response.status == 503, response.body
    assert error["details"]["failed"] == ["d1_write"]
    assert error["details"]["checks"]["d1"]["ok"] is True
    assert int(response.headers["retry-after"]) > 0


def test_deep_health_writes_its_probe_row(client, env):
    def checks() -> int:
        query = "SELECT checks FROM health_probe WHERE id = 'deep'"
        return client.run(env.db.prepare(query).first("checks"))

    assert client.get("/health?deep=true").status == 200
    first = checks()
    assert client.get("/health?deep=true").status == 200
    assert checks() == first + 1


@pytest.mark.slow
def test_deep_health_reports_a_sandbox_that_cannot_start(client, monkeypatch):
    from tests.support.broken_bwrap import broken_bwrap

    with broken_bwrap(monkeypatch):
        response = client.get("/health?deep=true")
    error = response.json()["error"]
    assert response.status == 503
    assert error["message"] == "Failed checks: sandbox"
    check = error["details"]["checks"]["sandbox"]
    assert check["ok"] is False and "cannot create the sandbox" in check["error"]
