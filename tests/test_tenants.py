"""A user's tenants as columns (saasus_mw.tenants): the same tenants as tuples, in the picker's order,
eligible by the same rules one by one or column by column, and read from userinfo as strictly."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from saasus_mw.completion import ineligibility, ineligible
from saasus_mw.saasus import _user_info_from_json
from saasus_mw.tenants import Tenant, Tenants

_TENANTS = (
    Tenant("t-2", "beta", True, "p-1", ("admin",)),
    Tenant("t-1", "Alpha", False, None, ()),
    Tenant("t-3", "gamma", True, "p-2", ("admin", "user")),
)


def test_columns_are_the_same_tenants_as_tuples() -> None:
    tenants = Tenants.of(_TENANTS)
    assert tenants == _TENANTS and list(tenants) == list(_TENANTS) and len(tenants) == 3
    assert tenants[1] == _TENANTS[1] and tenants[-1] == _TENANTS[-1]
    assert tenants[1:] == _TENANTS[1:] and isinstance(tenants[1:], Tenants)
    assert tenants.ids == ("t-2", "t-1", "t-3") and tenants.roles[2] == ("admin", "user")
    assert tenants.find("t-3") == _TENANTS[2] and tenants.find("t-9") is None
    assert Tenants.of(tenants) is tenants and Tenants.of(()) == () and hash(tenants) == hash(Tenants.of(_TENANTS))
    assert tenants.taken([2, 0]) == (_TENANTS[2], _TENANTS[0])
    assert tenants.taken([1]) == (_TENANTS[1],) and tenants.taken([]) == ()
    # Equal to the tuple of the same tenants, and so hashed as it is: found in a set of either.
    assert hash(tenants) == hash(_TENANTS) and _TENANTS in {tenants}
    with pytest.raises(ValueError, match="every column"):
        Tenants(("a",), (), (), (), ())


_NAMES = st.lists(
    st.sampled_from(["acme", "Acme", "ACME", "Straße", "STRASSE", "ΣΊΣΥΦΟΣ", "σίσυφος", "株式会社", "a\x00b", "a", ""]),
    max_size=12,
)


@given(_NAMES)
def test_the_picker_order_is_by_casefolded_name_then_id(names: list[str]) -> None:
    tenants = Tenants.of([Tenant(f"id-{(i * 7) % 5}-{i}", name, True, None, ()) for i, name in enumerate(names)])
    expected = sorted(range(len(names)), key=lambda i: (tenants.names[i].casefold(), tenants.ids[i]))
    assert tenants.sorted_order() == expected


_TENANT = st.builds(
    Tenant,
    id=st.sampled_from(["a", "b", "c", "d"]),
    name=st.just("n"),
    completed_sign_up=st.booleans(),
    plan_id=st.none(),
    roles=st.sampled_from([(), ("admin",), ("user",), ("admin", "user")]),
)


@given(
    st.lists(_TENANT, max_size=8),
    st.sets(st.sampled_from(["a", "b", "c", "x"])),
    st.sampled_from([frozenset(), frozenset({"admin"}), frozenset({"owner"})]),
)
def test_the_picker_and_the_link_agree_on_who_is_eligible(
    tenants: list[Tenant], linked: set[str], required: frozenset[str]
) -> None:
    assert ineligibility(Tenants.of(tenants), linked, required) == [ineligible(t, linked, required) for t in tenants]


def _userinfo(*envs: object) -> bytes:
    tenants = [{"id": f"t-{i}", "name": "n", "completed_sign_up": True, "envs": e} for i, e in enumerate(envs)]
    return json.dumps({"id": "u", "email": "e@example.com", "tenants": tenants}).encode()


def test_each_tenant_gets_the_roles_of_its_own_environments() -> None:
    admin = [{"id": 1, "roles": [{"role_name": "admin", "display_name": "Admin"}]}]
    both = [{"roles": [{"role_name": "user"}]}, {"roles": [{"role_name": "admin"}, {"role_name": "user"}]}]
    info = _user_info_from_json(_userinfo(admin, both, admin, []))
    assert [t.roles for t in info.tenants] == [("admin",), ("admin", "user"), ("admin",), ()]


def test_tenants_with_the_same_environments_get_the_same_roles() -> None:
    admin = [{"id": 1, "roles": [{"role_name": "admin"}, {"role_name": "owner"}]}]
    info = _user_info_from_json(_userinfo(admin, admin, admin))
    assert [t.roles for t in info.tenants] == [("admin", "owner")] * 3
    with pytest.raises(ValueError):  # the same bad environments in every tenant: as strict as one
        _user_info_from_json(_userinfo([{}], [{}]))


@pytest.mark.parametrize(
    "envs",
    [
        pytest.param([{"roles": [{"role_name": 5}]}], id="a-role-name-not-a-string"),
        pytest.param([{"roles": "admin"}], id="roles-not-a-list"),
        pytest.param({"roles": []}, id="envs-not-a-list"),
        pytest.param([{}], id="an-environment-without-roles"),
    ],
)
def test_environments_are_read_as_strictly_as_the_rest(envs: object) -> None:
    good = [{"roles": [{"role_name": "admin"}]}]
    with pytest.raises(ValueError, match=r"at `\$\.tenants\[1\]\.envs"):  # BAD_RESPONSE, saying where
        _user_info_from_json(_userinfo(good, envs))
