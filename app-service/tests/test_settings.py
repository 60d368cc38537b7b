"""A wrong setting stops the service with one clear line."""

import pytest
from app_service.settings import Settings
from pydantic import ValidationError
from support.services import serve_refused


def test_cors_origins_are_a_comma_separated_list(monkeypatch):
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", "http://127.0.0.1:8301, http://localhost:8301/ ,")

    assert Settings().cors_allowed_origins == ["http://127.0.0.1:8301", "http://localhost:8301"]


def test_sqlite_urls_name_relative_and_absolute_paths():
    assert Settings(database_url="sqlite:///var/reviews.db").database_path == "var/reviews.db"
    assert Settings(database_url="sqlite:////var/lib/app-service/reviews.db").database_path == (
        "/var/lib/app-service/reviews.db"
    )


def test_a_postgresql_url_names_a_server_database_and_is_never_shown():
    settings = Settings(database_url="postgresql://app:secret-password@db.example:5432/reviews_stable")

    assert settings.database_path is None
    assert "secret-password" not in repr(settings)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"database_url": "mysql://db/reviews"}, "must be sqlite:///path or postgresql://"),
        ({"database_url": "sqlite:///"}, "must be sqlite:///path or postgresql://"),
        ({"database_url": "postgresql://"}, "must be sqlite:///path or postgresql://"),
        ({"database_timeout_seconds": 0}, "greater than 0"),
        ({"database_pool_size": 0}, "greater than or equal to 1"),
        ({"app_version": "beta"}, "Input should be 'stable' or 'canary'"),
        ({"cors_allowed_origins": "*"}, "'*' is not allowed"),
        ({"cors_allowed_origins": "frontend.local"}, "is not an origin"),
        ({"cors_allowed_origins": "http://frontend.local/page"}, "is not an origin"),
        ({"export_api_key": "short"}, "at least 16 characters"),
        ({"model_service_url": "model-service"}, "URL"),
        ({"model_service_timeout_seconds": 0}, "greater than 0"),
        ({"port": 0}, "greater than or equal to 1"),
        ({"experiment_id": "Confidence Display"}, "should match pattern"),
        ({"experiment_id": "-display"}, "should match pattern"),
    ],
)
def test_invalid_settings_are_refused_with_the_reason(overrides, message):
    with pytest.raises(ValidationError, match=message):
        Settings(**overrides)


def test_an_unusable_database_stops_the_service_in_one_line(tmp_path):
    (tmp_path / "a-file").write_text("")

    result = serve_refused("app_service", {"DATABASE_URL": f"sqlite:///{tmp_path}/a-file/reviews.db"})

    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"app-service: cannot open the database {tmp_path}/a-file/reviews.db:")
