"""Configuration: kwargs > environment > TOML file, validated when the middleware is built."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from saasus_mw import ConfigError, MarketplaceMiddleware, MarketplaceWSGIMiddleware, Settings

from .conftest import asgi_host, wsgi_host

BASE = {"SAASUS_SAAS_ID": "saas", "SAASUS_API_KEY": "key", "SAASUS_SECRET_KEY": "secret"}


def test_defaults() -> None:
    s = Settings.load(BASE)
    assert (s.callback_path, s.success_url, s.signin_url, s.state_ttl, s.cookie_secure, s.enabled) == (
        "/callback",
        "",  # hand off: signed in through the sign-in URL
        "",  # the callback path itself
        900,
        True,
        True,
    )
    assert s.saasus_base_url == "https://api.saasus.io/v1"


def test_precedence_kwargs_over_environment_over_toml(tmp_path: Path) -> None:
    config = tmp_path / "mw.toml"
    config.write_text('[saasus_mw]\ncallback_path = "/from-toml"\nsuccess_url = "/toml"\nstate_ttl = 60\n')
    env = {**BASE, "SAASUS_MW_CONFIG": str(config), "SAASUS_MW_SUCCESS_URL": "/env"}
    s = Settings.load(env, state_ttl=30)
    assert (s.callback_path, s.success_url, s.state_ttl) == ("/from-toml", "/env", 30)


def test_toml_alone_configures_saasus(tmp_path: Path) -> None:
    config = tmp_path / "mw.toml"
    config.write_text(
        '[saasus_mw]\nsaasus_saas_id = "s"\nsaasus_api_key = "k"\nsaasus_secret_key = "x"\n'
        'saasus_base_url = "http://127.0.0.1:1/v1/"\ncookie_secure = false\n'
    )
    s = Settings.load({"SAASUS_MW_CONFIG": str(config)})
    assert s.saasus_saas_id == "s" and s.saasus_secret_key.get_secret_value() == "x"
    assert s.saasus_base_url == "http://127.0.0.1:1/v1" and s.cookie_secure is False


@pytest.mark.parametrize(
    ("env", "names"),
    [
        pytest.param({"SAASUS_API_KEY": "k", "SAASUS_SECRET_KEY": "x"}, "SAASUS_SAAS_ID", id="missing-saas-id"),
        pytest.param({**BASE, "SAASUS_MW_STATE_TTL": "soon"}, "SAASUS_MW_STATE_TTL", id="ttl-not-a-number"),
        pytest.param({**BASE, "SAASUS_MW_STATE_TTL": "0"}, "SAASUS_MW_STATE_TTL", id="ttl-zero"),
        pytest.param({**BASE, "SAASUS_MW_ENABLED": "maybe"}, "SAASUS_MW_ENABLED", id="enabled-not-bool"),
        pytest.param({**BASE, "SAASUS_MW_CALLBACK_PATH": "callback"}, "SAASUS_MW_CALLBACK_PATH", id="relative-path"),
        pytest.param(
            {**BASE, "SAASUS_MW_SUCCESS_URL": "//evil.example"}, "SAASUS_MW_SUCCESS_URL", id="scheme-relative"
        ),
        pytest.param({**BASE, "SAASUS_MW_SUCCESS_URL": "javascript:alert(1)"}, "SAASUS_MW_SUCCESS_URL", id="js-url"),
        pytest.param({**BASE, "SAASUS_MW_SECRET_KEY": "short"}, "SAASUS_MW_SECRET_KEY", id="weak-key"),
        pytest.param({**BASE, "SAASUS_BASE_URL": "api.saasus.io"}, "SAASUS_BASE_URL", id="base-url-no-scheme"),
        pytest.param({**BASE, "SAASUS_MW_CONFIG": "/nonexistent.toml"}, "SAASUS_MW_CONFIG", id="missing-file"),
    ],
)
def test_bad_configuration_names_the_variable(env: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError, match=names):
        Settings.load(env)


def test_malformed_toml_names_the_file(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[saasus_mw\n")
    with pytest.raises(ConfigError, match="SAASUS_MW_CONFIG"):
        Settings.load({**BASE, "SAASUS_MW_CONFIG": str(config)})


def test_unknown_toml_key_is_an_error(tmp_path: Path) -> None:
    config = tmp_path / "typo.toml"
    config.write_text('[saasus_mw]\ncalback_path = "/x"\n')
    with pytest.raises(ConfigError, match="calback_path"):
        Settings.load({**BASE, "SAASUS_MW_CONFIG": str(config)})


def test_unknown_keyword_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="calback_path"):
        Settings.load(BASE, calback_path="/x")


@pytest.mark.parametrize("wrap", [MarketplaceMiddleware, MarketplaceWSGIMiddleware])
def test_middlewares_validate_at_construction(wrap: type, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SAASUS_SAAS_ID", "SAASUS_API_KEY", "SAASUS_SECRET_KEY", "SAASUS_MW_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="SAASUS_SAAS_ID"):
        wrap(asgi_host if wrap is MarketplaceMiddleware else wsgi_host)
    # Disabled needs no credentials: the operator's off switch always works.
    monkeypatch.setenv("SAASUS_MW_ENABLED", "false")
    wrap(asgi_host if wrap is MarketplaceMiddleware else wsgi_host)


def test_kwargs_override_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in BASE.items():
        monkeypatch.setenv(key, value)
    app = MarketplaceMiddleware(asgi_host, callback_path="/auth/callback", success_url="/home")
    assert app._flow is not None and app._flow.settings.callback_path == "/auth/callback"


def test_secrets_never_appear_in_repr_or_errors() -> None:
    s = Settings.load(
        {**BASE, "SAASUS_SECRET_KEY": "very-secret-value", "SAASUS_MW_SECRET_KEY_FALLBACKS": "old-key-1-0123456789"}
    )
    text = repr(s) + str(s)
    assert "very-secret-value" not in text and "old-key-1-0123456789" not in text
    for variable in ("SAASUS_MW_SECRET_KEY", "SAASUS_MW_SECRET_KEY_FALLBACKS"):
        with pytest.raises(ConfigError, match=variable) as info:
            Settings.load({**BASE, variable: "tiny-secret"})
        assert "tiny-secret" not in str(info.value)


@pytest.mark.parametrize(
    ("fallbacks", "error"),
    [
        pytest.param("", None, id="none"),
        pytest.param("o" * 16 + ",p" + "p" * 15, None, id="two-long-enough"),
        pytest.param("o" * 32 + ", p", "key 2 (of 2, comma-separated) has fewer than 16 characters", id="one-short"),
        pytest.param("o" * 15, "key 1 (of 1, comma-separated)", id="just-below"),
    ],
)
def test_fallback_keys_meet_the_primary_keys_rules(fallbacks: str, error: str | None) -> None:
    env = {**BASE, "SAASUS_MW_SECRET_KEY": "n" * 32, "SAASUS_MW_SECRET_KEY_FALLBACKS": fallbacks}
    if error is None:
        Settings.load(env)
    else:
        with pytest.raises(ConfigError, match=re.escape(error)):
            Settings.load(env)


def test_a_keyword_argument_is_named_as_such() -> None:
    with pytest.raises(ConfigError) as info:
        Settings.load(BASE, state_ttl="abc")
    assert str(info.value) == (
        "keyword argument state_ttl= (SAASUS_MW_STATE_TTL) is not valid: expected a whole number above 0 "
        "(the default is 900)"
    )


def test_cookie_key_is_derived_not_random_and_not_the_saasus_secret() -> None:
    a, b = Settings.load(BASE), Settings.load(BASE)
    assert a.secret_key.get_secret_value() == b.secret_key.get_secret_value()  # workers agree
    assert a.secret_key.get_secret_value() != BASE["SAASUS_SECRET_KEY"]
    assert Settings.load({**BASE, "SAASUS_SECRET_KEY": "other"}).secret_key != a.secret_key


def test_key_rotation_order() -> None:
    s = Settings.load(
        {**BASE, "SAASUS_MW_SECRET_KEY": "n" * 32, "SAASUS_MW_SECRET_KEY_FALLBACKS": "o" * 32 + ",p" + "p" * 31}
    )
    # Newest last: it signs. Each fallback is also tried as a former SAASUS_SECRET_KEY (derived).
    plain = [k for k in s.signing_keys if len(set(k)) == 1]
    assert plain == ["p" * 32, "o" * 32, "n" * 32]
    assert s.signing_keys[-1] == "n" * 32 and len(s.signing_keys) == 5


def test_insecure_cookie_with_https_success_url_warns() -> None:
    with pytest.warns(UserWarning, match="SAASUS_MW_COOKIE_SECURE"):
        Settings.load({**BASE, "SAASUS_MW_COOKIE_SECURE": "false", "SAASUS_MW_SUCCESS_URL": "https://app.example/"})


def test_samesite_strict_warns_and_none_needs_secure() -> None:
    with pytest.warns(UserWarning, match="Strict cookies"):
        assert Settings.load({**BASE, "SAASUS_MW_COOKIE_SAMESITE": "strict"}).cookie_samesite == "Strict"
    with pytest.raises(ConfigError, match="SAASUS_MW_COOKIE_SAMESITE"):
        Settings.load({**BASE, "SAASUS_MW_COOKIE_SAMESITE": "none", "SAASUS_MW_COOKIE_SECURE": "false"})
    assert Settings.load({**BASE, "SAASUS_MW_COOKIE_SAMESITE": "none"}).cookie_samesite == "None"


# -- SAASUS_MW_SUPPORT_URL ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "loaded"),
    [
        pytest.param("", "", id="unset"),
        pytest.param("https://example.com/support", "https://example.com/support", id="https"),
        pytest.param(" mailto:support@example.com ", "mailto:support@example.com", id="mailto"),
        pytest.param(
            "mailto:support@example.com?subject=AWS%20Marketplace",
            "mailto:support@example.com?subject=AWS%20Marketplace",
            id="mailto-subject",
        ),
        pytest.param(
            "https://例え.jp/サポート", "https://xn--r8jz45g.jp/%E3%82%B5%E3%83%9D%E3%83%BC%E3%83%88", id="idn"
        ),
        pytest.param(
            "mailto:サポート@例え.jp", "mailto:%E3%82%B5%E3%83%9D%E3%83%BC%E3%83%88@xn--r8jz45g.jp", id="idn-mail"
        ),
        pytest.param("https://example.com/help?q=é#top", "https://example.com/help?q=%C3%A9#top", id="query-fragment"),
    ],
)
def test_support_url_is_loaded_as_ascii(value: str, loaded: str) -> None:
    url = Settings.load({**BASE, "SAASUS_MW_SUPPORT_URL": value}).support_url
    assert url == loaded and url.isascii()


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        pytest.param("http://example.com/support", "expected an https:// URL or a mailto: address", id="http"),
        pytest.param("javascript:alert(1)", "expected an https:// URL or a mailto: address", id="javascript"),
        pytest.param("/support", "expected an https:// URL or a mailto: address", id="path"),
        pytest.param("https:/example.com", "expected an https:// URL or a mailto: address", id="one-slash"),
        pytest.param("https://", "expected an https:// URL or a mailto: address", id="no-host"),
        pytest.param("mailto:support", "expected one address after mailto:", id="no-at"),
        pytest.param("mailto:a@b.example,c@d.example", "expected one address after mailto:", id="two-addresses"),
        pytest.param("mailto:@example.com", "expected one address after mailto:", id="no-local-part"),
        pytest.param("https://example.com/a\r\nSet-Cookie:x", "control characters", id="crlf"),
        pytest.param("https://example.com/\tx", "control characters", id="tab"),
        pytest.param("https://example.com/a b", "spaces", id="space"),
        pytest.param("https://example.com\\@evil.example", "backslashes", id="backslash"),
        pytest.param("https://support.example.com@evil.example/", "user name or password", id="userinfo"),
        pytest.param("https://" + "a" * 64 + ".example/", "cannot be encoded (IDNA)", id="label-too-long"),
    ],
)
def test_support_url_refuses_what_a_page_cannot_link_to(value: str, reason: str) -> None:
    with pytest.raises(ConfigError, match="SAASUS_MW_SUPPORT_URL") as info:
        Settings.load({**BASE, "SAASUS_MW_SUPPORT_URL": value})
    assert reason in str(info.value)


# -- every problem at once ----------------------------------------------------------


PROBLEMS = {
    "SAASUS_MW_STATE_TTL": "0",
    "SAASUS_MW_CALLBACK_PATH": "callback",
    "SAASUS_MW_SUPPORT_URL": "ftp://example.com",
    "SAASUS_MW_COOKIE_SAMESITE": "none",
    "SAASUS_MW_COOKIE_SECURE": "false",
}


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        Settings.load({"SAASUS_API_KEY": "key", **PROBLEMS})
    named = ["SAASUS_MW_CALLBACK_PATH", "SAASUS_MW_STATE_TTL", "SAASUS_MW_SUPPORT_URL", "SAASUS_SAAS_ID"]
    named += ["SAASUS_SECRET_KEY", "SAASUS_MW_COOKIE_SAMESITE=none"]
    problems = [str(p) for p in info.value.problems]
    assert len(problems) == len(named) and all(name in p for name, p in zip(named, problems, strict=True)), problems
    message = str(info.value)
    assert message.startswith("6 configuration problems (saasus-mw check reports the same):\n  - ")
    assert all(f"\n  - {p}" in message for p in problems)


def test_a_single_problem_is_raised_as_itself() -> None:
    with pytest.raises(ConfigError) as info:
        Settings.load({**BASE, "SAASUS_MW_STATE_TTL": "0"})
    assert info.value.problems == (info.value,) and str(info.value).startswith("SAASUS_MW_STATE_TTL (environment")


@pytest.mark.parametrize("wrap", [MarketplaceMiddleware, MarketplaceWSGIMiddleware])
def test_building_the_middleware_reports_every_problem(wrap: type, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**BASE, **PROBLEMS}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        wrap(asgi_host if wrap is MarketplaceMiddleware else wsgi_host)
    assert len(info.value.problems) == 4
    for name in (
        "SAASUS_MW_STATE_TTL",
        "SAASUS_MW_CALLBACK_PATH",
        "SAASUS_MW_SUPPORT_URL",
        "SAASUS_MW_COOKIE_SAMESITE",
    ):
        assert name in str(info.value)
