"""A permission the platform says is missing is named as its consent screen names it, never by scope code."""

import pytest

from platforms import all_adapters, get_adapter


@pytest.mark.parametrize("adapter", all_adapters(), ids=lambda a: a.platform)
def test_every_required_permission_has_a_name_staff_know(adapter):
    for code in adapter.required_permissions + adapter.scopes:
        assert adapter.permission_label(code) != code


@pytest.mark.parametrize("adapter", all_adapters(), ids=lambda a: a.platform)
def test_missing_permissions_are_named_not_coded(adapter):
    reason = adapter.missing_permissions_reason(adapter.required_permissions)
    assert not any(code in reason for code in adapter.required_permissions)
    assert adapter.display_name in reason


def test_a_refusal_naming_no_known_scope_still_reads_as_a_sentence():
    sentence = get_adapter("TWITTER").permission_refusal("Forbidden")
    assert sentence.startswith("X") and "Reconnect the account" in sentence


def test_a_page_role_without_create_content_says_who_can_fix_it():
    said = "(#200) The user does not have sufficient administrative permission (task CREATE_CONTENT) for this Page."
    sentence = get_adapter("FACEBOOK").permission_refusal(said)
    assert "“Create content”" in sentence and "Page admin" in sentence and "CREATE_CONTENT" not in sentence
