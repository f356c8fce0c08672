"""Who may do what with logic programs (issue 20, item 7): viewers see, operators cannot edit, facility
managers and admins edit, deploy and override."""

from __future__ import annotations

import pytest

from openbms.api.auth.roles import ROLES, role_allows

_PROGRAMS = ("programs:read", "programs:write", "programs:deploy")
EXPECTED = {
    "viewer": ("programs:read",),
    "operator": ("programs:read",),
    "facility_manager": _PROGRAMS,
    "admin": _PROGRAMS,
}


@pytest.mark.parametrize("role", ROLES)
def test_the_program_permissions_of_each_role(role):
    assert tuple(p for p in _PROGRAMS if role_allows(role, p)) == EXPECTED[role]
