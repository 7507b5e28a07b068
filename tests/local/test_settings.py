import pytest

from devcapsules.settings import Settings, SettingsError


def test_defaults():
    settings = Settings.from_vars({})
    assert settings.environment == "development"
    assert settings.cors.allowed_origins == ()
    assert settings.max_body_bytes == 1024 * 1024


def test_parses_origins_and_numbers():
    settings = Settings.from_vars(
        {"ALLOWED_ORIGINS": "https://a.example/, http://b.example", "MAX_BODY_BYTES": "2048"}
    )
    assert settings.cors.allowed_origins == ("https://a.example", "http://b.example")
    assert settings.max_body_bytes == 2048


@pytest.mark.parametrize(
    "values",
    [
        {"ENVIRONMENT": "prod"},
        {"ALLOWED_ORIGINS": "example.com"},
        {"MAX_BODY_BYTES": "lots"},
        {"MAX_BODY_BYTES": "0"},
    ],
)
def test_invalid_values_fail_at_build_time(values):
    with pytest.raises(SettingsError):
        Settings.from_vars(values)
