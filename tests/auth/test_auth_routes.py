import time

import jwt
import pytest

from devcapsules.services.accounts.tokens import AUDIENCE, ISSUER
from tests.conftest import TEST_JWT_SECRET
from tests.support.auth import PASSWORD, create_api_key, key_headers, register

REGISTER = "/api/v1/auth/register"
LOGIN = "/api/v1/auth/login"
ME = "/api/v1/auth/me"


def test_register_answers_201_with_session_shape(client):
    response = client.post(
        REGISTER, json={"email": " Ada@Example.COM ", "password": PASSWORD, "name": "Ada"}
    )
    body = response.json()
    assert response.status == 201
    assert set(body) >= {"success", "accessToken", "refreshToken", "expiresIn", "user"}
    assert body["user"]["email"] == "ada@example.com"
    assert body["user"]["plan"] == "free"
    assert "password" not in str(body["user"]).lower()


def test_duplicate_email_is_409_case_insensitively(client):
    register(client, "dup@example.com")
    response = client.post(
        REGISTER, json={"email": "DUP@example.com", "password": PASSWORD, "name": "X"}
    )
    assert response.status == 409
    assert response.json()["error"]["code"] == "email_taken"


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"email": "not-an-email", "password": PASSWORD, "name": "A"}, ["email"]),
        ({"email": "a@b.io", "password": "short", "name": "A"}, ["password"]),
        ({"email": "a@b.io", "password": "x" * 129, "name": "A"}, ["password"]),
        ({"email": "a@b.io", "password": PASSWORD, "name": ""}, ["name"]),
        ({"email": "a@b.io", "password": 12345678, "name": "A"}, ["password"]),
    ],
)
def test_register_validation(client, body, path):
    response = client.post(REGISTER, json=body)
    assert response.status == 422
    assert response.json()["error"]["details"][0]["path"] == path


def test_megabyte_password_is_refused_before_hashing(client, app):
    calls = []

    async def spy(*args):
        calls.append(args)
        return b"x" * 32

    client.env.pbkdf2 = spy
    response = client.post(
        REGISTER, json={"email": "m@b.io", "password": "x" * 1_000_000, "name": "M"}
    )
    assert response.status in (413, 422)
    assert calls == []


def test_login_success_and_uniform_failures(client):
    account = register(client)
    ok = client.post(LOGIN, json={"email": account.email.upper(), "password": PASSWORD})
    assert ok.status == 200 and ok.json()["user"]["id"] == account.id
    wrong = client.post(LOGIN, json={"email": account.email, "password": "wrong password"})
    missing = client.post(LOGIN, json={"email": "ghost@example.com", "password": "whatever1"})
    assert wrong.status == missing.status == 401
    assert wrong.json()["error"] == missing.json()["error"]


def test_me_with_access_token(client):
    account = register(client, plan="creator")
    response = client.get(ME, headers=account.headers)
    body = response.json()
    assert response.status == 200
    assert body["user"]["id"] == account.id
    assert body["plan"] == "creator"
    assert body["authenticatedAs"] == "user"


def test_me_without_credentials_is_401(client):
    response = client.get(ME)
    assert response.status == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def forge(claims: dict, key: str = TEST_JWT_SECRET, algorithm: str = "HS256") -> str:
    now = int(time.time())
    base = {
        "sub": "usr_x",
        "plan": "enterprise",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 600,
        "jti": "j",
        "typ": "access",
    }
    return jwt.encode({**base, **claims}, key, algorithm=algorithm)


def unsigned(claims: dict) -> str:
    import base64
    import json

    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    token = forge(claims)
    payload = jwt.decode(token, options={"verify_signature": False})
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize(
    ("make_token", "code"),
    [
        (lambda: forge({"exp": int(time.time()) - 120}), "token_expired"),
        (lambda: forge({}, key="another-secret-" + "y" * 40), "token_invalid"),
        (lambda: forge({"aud": "someone-else"}), "token_invalid"),
        (lambda: forge({"iss": "evil"}), "token_invalid"),
        (lambda: forge({}, algorithm="HS512"), "token_invalid"),  # right secret, other alg
        (lambda: unsigned({}), "token_invalid"),
        (lambda: "not.a.jwt", "token_malformed"),
        (lambda: "garbage", "token_malformed"),
        # NumericDate claims are integers, as PyJWT requires (the app's clock checks them)
        (lambda: forge({"exp": str(int(time.time()) + 600)}), "token_malformed"),
        (lambda: forge({"iat": True}), "token_malformed"),
    ],
)
def test_bad_tokens_are_401_with_precise_codes(client, make_token, code):
    response = client.get(ME, headers={"Authorization": f"Bearer {make_token()}"})
    assert response.status == 401
    assert response.json()["error"]["code"] == code
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_rs256_token_is_refused(client):
    """An algorithm switch to RS256 (public-key confusion) never reaches verification."""
    _, payload, signature = forge({}).split(".")
    header = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9"  # {"alg":"RS256","typ":"JWT"}
    response = client.get(ME, headers={"Authorization": f"Bearer {header}.{payload}.{signature}"})
    assert response.status == 401
    assert response.json()["error"]["code"] == "token_invalid"


def test_tampered_payload_is_refused(client):
    account = register(client)
    header, _payload, signature = account.access_token.split(".")
    claims = jwt.decode(account.access_token, options={"verify_signature": False})
    claims["plan"] = "enterprise"
    import base64
    import json

    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    response = client.get(ME, headers={"Authorization": f"Bearer {header}.{forged}.{signature}"})
    assert response.status == 401


def test_small_clock_leeway_is_accepted(client):
    account = register(client)
    token = forge({"sub": account.id, "exp": int(time.time()) - 10})
    assert client.get(ME, headers={"Authorization": f"Bearer {token}"}).status == 200


def test_non_bearer_scheme_is_401(client):
    response = client.get(ME, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert response.status == 401
    assert response.json()["error"]["code"] == "invalid_authorization_header"


def test_missing_jwt_secret_outside_dev_is_a_configuration_error(client, logs):
    from devcapsules.settings import AuthSettings, Settings

    # Built directly: `from_vars` refuses a short secret outside development outright.
    client.app.settings = Settings(environment="production", auth=AuthSettings("short"))
    from devcapsules.app import build_app
    from devcapsules.logs import Logger

    client.app = build_app(client.app.settings, logger=Logger(sink=logs))
    response = client.post(REGISTER, json={"email": "c@b.io", "password": PASSWORD, "name": "C"})
    assert response.status == 500
    assert response.json()["error"]["code"] == "configuration_error"
    assert "JWT_SECRET" in response.json()["error"]["message"]
    assert any(line.get("code") == "configuration_error" for line in logs.lines)
    assert client.post(LOGIN, json={"email": "c@b.io", "password": PASSWORD}).status == 401


def test_api_key_principal_on_me(client):
    account = register(client, plan="team")
    key = create_api_key(client, account, ["capsules:read"])
    response = client.get(ME, headers=key_headers(key))
    body = response.json()
    assert response.status == 200
    assert body["authenticatedAs"] == "api_key"
    assert body["plan"] == "team"
    assert body["apiKey"]["scopes"] == ["capsules:read"]
    # A widget key sits in public pages: it must not reveal who owns it.
    assert "user" not in body and account.email not in response.body.decode()
