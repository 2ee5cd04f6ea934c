"""The picker as a buyer sees it: eligibility with reasons, many tenants, languages, branding."""

from __future__ import annotations

import base64
import hashlib
import re
import time
import uuid
from pathlib import Path

import httpx
import pytest

from saasus_mw.testing import SaaSusStandIn, Tenant, User

from .conftest import Adapter, begin, error_code, make_settings, parse_picker, pick


def _user(standin: SaaSusStandIn, tenants: list[Tenant]) -> User:
    return standin.add_user(email=f"user-{uuid.uuid4().hex[:8]}@example.com", tenants=tenants)


@pytest.fixture
def mixed(standin: SaaSusStandIn) -> User:
    user = _user(
        standin,
        [
            Tenant(name="Able", plan_id=standin.add_plan("Pro").id, roles=("admin",)),
            Tenant(name="Linked Co", roles=("admin",)),
            Tenant(name="Half Signed", completed_sign_up=False, roles=("admin",)),
            Tenant(name="Viewer Inc", roles=("viewer",)),
        ],
    )
    standin.link_customer(user.tenants[1].id)
    return user


def test_registration_token_is_checked_before_the_picker(
    client: httpx.Client, standin: SaaSusStandIn, buyer: User
) -> None:
    token, picker_url = begin(client, standin, buyer)
    assert pick(client, picker_url, buyer.tenants[0].id).status_code == 303
    client.cookies.clear()  # another browser: no "already linked" marker
    again = client.get("/callback", params={"code": standin.issue_code(buyer), "registration_token": token})
    # Checked alongside the code's exchange (one round trip, not two): a spent token with
    # a fresh sign-in is a returning buyer, told so and let in, never a picker that fails.
    assert again.status_code == 303
    notice = client.get(again.headers["location"])
    assert notice.status_code == 200 and "Your purchase is linked" in notice.text
    assert 'name="tenant_id"' not in notice.text and 'name="csrf_token"' in notice.text  # Continue
    assert [c.endpoint for c in standin.calls].count("link") == 1


def test_every_tenant_shown_with_why_it_cannot_be_chosen(adapter: Adapter, standin: SaaSusStandIn, mixed: User) -> None:
    with adapter.connect(make_settings(standin, required_roles="admin,sadmin")) as client:
        _, picker_url = begin(client, standin, mixed)
        page = client.get(picker_url)
    form = parse_picker(page.text)
    names = dict(form.options)
    assert [names[t.id] for t in mixed.tenants] == ["Able", "Linked Co", "Half Signed", "Viewer Inc"]
    able, linked, half, viewer = (t.id for t in mixed.tenants)
    assert form.disabled == {
        linked: "Already linked to an AWS Marketplace subscription",
        half: "Sign-up not completed",
        viewer: "Your role in this account cannot take purchases",
    }
    assert "Plan: Pro" in page.text and "Your role: admin" in page.text
    assert form.selected == able  # the only eligible one, still to be confirmed
    assert "Confirm that this account" in page.text


@pytest.mark.parametrize(
    ("index", "status", "code"),
    [
        pytest.param(1, 409, "tenant_already_linked", id="already-linked"),
        pytest.param(2, 403, "tenant_not_allowed", id="sign-up-not-completed"),
        pytest.param(3, 403, "tenant_not_allowed", id="role-not-allowed"),
    ],
)
def test_disabled_tenants_are_refused_server_side(
    adapter: Adapter, standin: SaaSusStandIn, mixed: User, index: int, status: int, code: str
) -> None:
    with adapter.connect(make_settings(standin, required_roles="admin")) as client:
        _, picker_url = begin(client, standin, mixed)
        response = pick(client, picker_url, mixed.tenants[index].id)
    assert response.status_code == status and error_code(response) == code
    assert standin.links == []


def test_without_a_role_policy_every_signed_up_tenant_is_offered(
    client: httpx.Client, standin: SaaSusStandIn, mixed: User
) -> None:
    _, picker_url = begin(client, standin, mixed)
    form = parse_picker(client.get(picker_url).text)
    assert set(form.disabled) == {mixed.tenants[1].id, mixed.tenants[2].id}


@pytest.mark.parametrize("signup_url", ["", "/signup"])
def test_no_eligible_tenant_explains_and_links_to_sign_up(
    adapter: Adapter, standin: SaaSusStandIn, signup_url: str
) -> None:
    user = _user(standin, [Tenant(name="Pending", completed_sign_up=False)])
    with adapter.connect(make_settings(standin, signup_url=signup_url)) as client:
        _, picker_url = begin(client, standin, user)
        response = client.get(picker_url)
    assert error_code(response) == "no_tenants"
    assert ('href="/signup"' in response.text) == bool(signup_url)


def test_a_thousand_tenants_all_listed_sorted_with_a_filter(adapter: Adapter, standin: SaaSusStandIn) -> None:
    names = [f"テナント{i:04d}" for i in range(1000)]
    user = _user(standin, [Tenant(name=n) for n in reversed(names)])
    with adapter.connect(make_settings(standin)) as client:
        _, picker_url = begin(client, standin, user)
        started = time.perf_counter()
        page = client.get(picker_url)
        elapsed = time.perf_counter() - started
    form = parse_picker(page.text)
    assert [name for _, name in form.options] == names  # no cap, stable order by name
    assert 'id="filter-box" hidden' in page.text  # revealed by the script; without it, all are listed
    print(f"picker with 1,000 tenants: {len(page.content):,} bytes in {elapsed * 1000:.0f} ms (incl. SaaSus calls)")


def test_inline_style_and_script_match_the_csp(client: httpx.Client, standin: SaaSusStandIn, buyer: User) -> None:
    _, picker_url = begin(client, standin, buyer)
    page = client.get(picker_url)
    csp = page.headers["content-security-policy"]
    for tag in ("style", "script"):
        (source,) = re.findall(rf"<{tag}>(.*?)</{tag}>", page.text, re.S)
        digest = base64.b64encode(hashlib.sha256(source.encode()).digest()).decode()
        assert f"{tag}-src 'sha256-{digest}'" in csp


@pytest.mark.parametrize(
    ("accept_language", "locale", "expected"),
    [
        pytest.param("ja,en-US;q=0.8", "", "ja", id="browser-prefers-japanese"),
        pytest.param("en-US,en;q=0.9,ja;q=0.5", "", "en", id="browser-prefers-english"),
        pytest.param("fr-FR", "", "en", id="unsupported-falls-back-to-english"),
        pytest.param("en", "ja", "ja", id="configured-locale-wins"),
    ],
)
def test_language(
    adapter: Adapter, standin: SaaSusStandIn, buyer: User, accept_language: str, locale: str, expected: str
) -> None:
    with adapter.connect(make_settings(standin, locale=locale)) as client:
        client.headers["accept-language"] = accept_language
        _, picker_url = begin(client, standin, buyer)
        page = client.get(picker_url)
        error = client.get("/callback", params={"code": "x", "registration_token": "y"})
    assert f'<html lang="{expected}">' in page.text and f'<html lang="{expected}">' in error.text
    title = {"en": "Select an account", "ja": "アカウントの選択"}[expected]
    assert f"<h1>{title}</h1>" in page.text
    assert ("このアカウントで利用を開始" in page.text) == (expected == "ja")
    assert ("このリンクは無効です" in error.text) == (expected == "ja")


def test_branding(adapter: Adapter, standin: SaaSusStandIn, buyer: User) -> None:
    settings = make_settings(standin, product_name="Acme <Cloud>", logo_url="/static/logo.svg", accent_color="#aa3300")
    with adapter.connect(settings) as client:
        _, picker_url = begin(client, standin, buyer)
        page = client.get(picker_url)
    assert '<img src="/static/logo.svg" alt="Acme &lt;Cloud&gt;">' in page.text
    assert "--accent:#aa3300" in page.text
    assert "img-src 'self'" in page.headers["content-security-policy"]


def _operators_picker(
    adapter: Adapter, standin: SaaSusStandIn, tmp_path: Path, template: str, user: User
) -> httpx.Response:
    """The picker ``user`` sees when the operator's ``SAASUS_MW_TEMPLATE_DIR`` holds ``template`` as picker.html."""
    (tmp_path / "picker.html").write_text(template)
    with adapter.connect(make_settings(standin, template_dir=str(tmp_path))) as client:
        _, picker_url = begin(client, standin, user)
        return client.get(picker_url)


def test_operators_can_replace_templates(adapter: Adapter, standin: SaaSusStandIn, tmp_path: Path) -> None:
    template = (
        '{% extends "base.html" %}{% block content %}<p id="custom">{{ email }}</p>'
        "{% for c in choices %}<b>{{ c.name }}</b>{% endfor %}{% endblock %}"
    )
    user = standin.add_user(email=f"<script>x</script>{uuid.uuid4().hex[:6]}@example.com", tenants=["<i>T</i>"])
    page = _operators_picker(adapter, standin, tmp_path, template, user)
    assert '<p id="custom">&lt;script&gt;x&lt;/script&gt;' in page.text  # autoescaped
    assert "<b>&lt;i&gt;T&lt;/i&gt;</b>" in page.text
    assert page.headers["x-frame-options"] == "DENY"  # headers stay ours


def test_an_operators_picker_gets_the_rows_and_every_choice_as_ours_does(
    adapter: Adapter, standin: SaaSusStandIn, tmp_path: Path
) -> None:
    # Our own picker has its rows joined in as bytes; an operator's gets them as a string, and
    # every Choice (built only when a template asks) with its detail, reason and position.
    template = (
        '{% extends "base.html" %}{% block content %}<ul id="rows" data-length="{{ rows|length }}">{{ rows|safe }}</ul>'
        '{% for c in choices %}<i data-i="{{ loop.index }}">{{ c.name }}|{{ c.detail }}|{{ c.reason }}</i>{% endfor %}'
        "<s>{{ choices[-1].name }} {{ choices[:1]|length }}</s>{% endblock %}"
    )
    basic = standin.add_plan("Basic")
    user = standin.add_user(
        email=f"ops-{uuid.uuid4().hex[:6]}@example.com",
        tenants=[Tenant("Beta", plan_id=basic.id), Tenant("Alpha", completed_sign_up=False)],
    )
    page = _operators_picker(adapter, standin, tmp_path, template, user)
    rows = page.text.split('<ul id="rows"', 1)[1].split("</ul>", 1)[0]
    assert "<!--rows" not in page.text
    assert rows.count("<li>") == 2 and '<span class="name">Alpha</span>' in rows
    length = int(rows.split('data-length="', 1)[1].split('"', 1)[0])
    assert length == len(rows.split(">", 1)[1])  # the string itself, not a stand-in for it
    assert '<i data-i="1">Alpha|Your role: admin|Sign-up not completed</i>' in page.text
    assert '<i data-i="2">Beta|Plan: Basic · Your role: admin|</i>' in page.text
    assert "<s>Beta 1</s>" in page.text


@pytest.mark.parametrize(
    ("content", "shown"),
    [
        pytest.param("{% block content %}{% endblock %}{{ self.content() }}", 2, id="content-twice"),
        pytest.param("<p>closed for maintenance</p>", 0, id="no-content"),
    ],
)
def test_our_picker_in_an_operators_base_gets_its_rows_wherever_the_content_goes(
    adapter: Adapter, standin: SaaSusStandIn, tmp_path: Path, content: str, shown: int
) -> None:
    # Our picker.html writes its rows once, into base.html's content block: one of the
    # operator's own may show that block twice, or not at all.
    (tmp_path / "base.html").write_text(f"<!doctype html><title>{{{{ title }}}}</title><main>{content}</main>")
    user = standin.add_user(email=f"ops-{uuid.uuid4().hex[:6]}@example.com", tenants=["Alpha", "Beta"])
    with adapter.connect(make_settings(standin, template_dir=str(tmp_path))) as client:
        _, picker_url = begin(client, standin, user)
        page = client.get(picker_url)
    assert page.status_code == 200 and "<!--rows" not in page.text
    assert page.text.count('<span class="name">Alpha</span>') == shown
    assert page.text.rstrip().endswith("</main>")  # nothing written after the operator's page


def test_an_operators_picker_can_hand_the_choices_to_its_own_script(
    adapter: Adapter, standin: SaaSusStandIn, tmp_path: Path
) -> None:
    # Our picker reads the choices only lazily; an operator's gets a list, which tojson takes.
    template = (
        '{% extends "base.html" %}{% block content %}'
        '<script type="application/json" id="data">{{ choices|tojson }}</script>{% endblock %}'
    )
    user = standin.add_user(email=f"ops-{uuid.uuid4().hex[:6]}@example.com", tenants=[Tenant("Alpha")])
    page = _operators_picker(adapter, standin, tmp_path, template, user)
    assert page.status_code == 200
    assert '"Alpha"' in page.text and user.tenants[0].id in page.text
