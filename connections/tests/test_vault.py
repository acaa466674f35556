import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection as db

from connections import vault
from connections.models import SocialConnection
from connections.tests.factories import SocialConnectionFactory

OLD = "old:" + "C" * 43
NEW = "new:" + "D" * 43

pytestmark = pytest.mark.django_db


def raw_columns(pk):
    with db.cursor() as cursor:
        cursor.execute(
            f"SELECT access_token, refresh_token FROM {SocialConnection._meta.db_table} WHERE id = %s",
            [pk.hex if db.vendor == "sqlite" else pk],
        )
        return cursor.fetchone()


def test_round_trip_and_key_id_kept_with_the_value():
    conn = SocialConnectionFactory(tokens=("access-secret-123", "refresh-secret-456"))
    conn.refresh_from_db()
    assert conn.reveal_access_token() == "access-secret-123"
    assert conn.reveal_refresh_token() == "refresh-secret-456"
    assert vault.key_id_of(conn.access_token) == "test2"


def test_refresh_token_is_encrypted_separately():
    conn = SocialConnectionFactory(tokens=("same-value", "same-value"))
    assert conn.access_token != conn.refresh_token
    conn.refresh_token, conn.access_token = conn.access_token, conn.refresh_token
    with pytest.raises(vault.VaultError):
        conn.reveal_access_token()


def test_raw_database_columns_never_hold_the_plaintext():
    conn = SocialConnectionFactory(tokens=("EAAB-plain-page-token", "plain-refresh-token"))
    access, refresh = raw_columns(conn.pk)
    assert "EAAB-plain-page-token" not in access and "plain-refresh-token" not in refresh
    assert access.startswith("v1:test2:") and refresh.startswith("v1:test2:")


def test_value_copied_to_another_row_does_not_decrypt():
    one = SocialConnectionFactory(tokens=("token-one", None))
    two = SocialConnectionFactory(tokens=("token-two", None))
    SocialConnection.objects.filter(pk=two.pk).update(access_token=one.access_token)
    two.refresh_from_db()
    with pytest.raises(vault.VaultError) as excinfo:
        two.reveal_access_token()
    assert "token-one" not in str(excinfo.value)


def test_tampered_value_fails():
    conn = SocialConnectionFactory(tokens=("token-value", None))
    prefix, key_id, body = conn.access_token.split(":", 2)
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    conn.access_token = f"{prefix}:{key_id}:{flipped}"
    with pytest.raises(vault.VaultError):
        conn.reveal_access_token()


def test_unknown_key_id_is_reported_without_secrets():
    conn = SocialConnectionFactory(tokens=("token-value", None))
    conn.access_token = conn.access_token.replace("v1:test2:", "v1:gone:")
    with pytest.raises(vault.VaultError, match="gone"):
        conn.reveal_access_token()


def test_rotation_reencrypts_every_row_and_old_key_can_be_removed(settings):
    settings.TOKEN_ENCRYPTION_KEYS = OLD
    rows = [SocialConnectionFactory(tokens=(f"access-{i}", f"refresh-{i}" if i % 2 else None)) for i in range(5)]
    settings.TOKEN_ENCRYPTION_KEYS = f"{NEW},{OLD}"
    call_command("rotate_token_keys")
    settings.TOKEN_ENCRYPTION_KEYS = NEW
    for i, row in enumerate(rows):
        row.refresh_from_db()
        assert vault.key_id_of(row.access_token) == "new"
        assert row.reveal_access_token() == f"access-{i}"
        assert row.reveal_refresh_token() == (f"refresh-{i}" if i % 2 else None)


def test_rotation_reports_rows_it_cannot_decrypt(settings):
    settings.TOKEN_ENCRYPTION_KEYS = OLD
    SocialConnectionFactory(tokens=("access", None))
    settings.TOKEN_ENCRYPTION_KEYS = NEW
    with pytest.raises(CommandError, match="could not be decrypted"):
        call_command("rotate_token_keys")


@pytest.mark.parametrize("raw,message", [
    ("", "empty"),
    ("nocolon", "must look like"),
    ("k1:c2hvcnQ", "32"),
    ("k1:" + "A" * 43 + ",k1:" + "B" * 43, "twice"),
    ("k 1:" + "A" * 43, "letters"),
])
def test_bad_key_configuration_is_explained(raw, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        vault.parse_keys(raw)


def test_repr_and_str_never_show_tokens():
    conn = SocialConnectionFactory(tokens=("visible-access-token", "visible-refresh-token"))
    for text in (repr(conn), str(conn), repr(vault.configured_keys())):
        assert "visible-" not in text and conn.access_token not in text
