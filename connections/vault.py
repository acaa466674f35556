"""Token vault: AES-256-GCM with a random nonce, the key id kept with each value, and
associated data that binds a ciphertext to its row and field.

Stored form: ``v1:<key id>:<base64url(nonce || ciphertext || tag)>``.
"""

import base64
import binascii
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

PREFIX = "v1"
NONCE_BYTES = 12


class VaultError(Exception):
    """A stored token could not be decrypted. The message never contains key material or tokens."""


@dataclass(frozen=True)
class Key:
    key_id: str
    secret: bytes = b""

    def __repr__(self):
        return f"Key(key_id={self.key_id!r})"


def parse_keys(raw):
    keys = []
    for position, item in enumerate(part.strip() for part in raw.split(",") if part.strip()):
        key_id, sep, encoded = item.partition(":")
        if not sep or not key_id or not encoded:
            raise ImproperlyConfigured(
                f"TOKEN_ENCRYPTION_KEYS entry {position + 1} must look like '<key id>:<base64url key>'."
            )
        if not key_id.replace("-", "").replace("_", "").isalnum():
            raise ImproperlyConfigured(f"TOKEN_ENCRYPTION_KEYS key id {key_id!r} may use letters, digits, - and _ only.")
        try:
            secret = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except (binascii.Error, ValueError):
            raise ImproperlyConfigured(f"TOKEN_ENCRYPTION_KEYS key {key_id!r} is not valid base64url.") from None
        if len(secret) != 32:
            raise ImproperlyConfigured(
                f"TOKEN_ENCRYPTION_KEYS key {key_id!r} decodes to {len(secret)} bytes; AES-256 needs exactly 32."
            )
        if any(key.key_id == key_id for key in keys):
            raise ImproperlyConfigured(f"TOKEN_ENCRYPTION_KEYS names key id {key_id!r} twice.")
        keys.append(Key(key_id, secret))
    if not keys:
        raise ImproperlyConfigured("TOKEN_ENCRYPTION_KEYS is empty: configure at least one key to store tokens.")
    return keys


def configured_keys():
    return parse_keys(settings.TOKEN_ENCRYPTION_KEYS)


def generate_key_entry(key_id):
    return f"{key_id}:{base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip('=')}"


def encrypt(plaintext, *, context):
    """Encrypt ``plaintext`` under the first configured key, bound to ``context`` (row and field)."""
    if plaintext is None:
        return None
    key = configured_keys()[0]
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key.secret).encrypt(nonce, plaintext.encode(), context.encode())
    return f"{PREFIX}:{key.key_id}:{base64.urlsafe_b64encode(nonce + sealed).decode().rstrip('=')}"


def key_id_of(stored):
    parts = (stored or "").split(":", 2)
    return parts[1] if len(parts) == 3 and parts[0] == PREFIX else None


def decrypt(stored, *, context):
    if stored is None or stored == "":
        return None
    parts = stored.split(":", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        raise VaultError("The stored token is not in the vault's format.")
    _, key_id, encoded = parts
    key = next((k for k in configured_keys() if k.key_id == key_id), None)
    if key is None:
        raise VaultError(f"The stored token was encrypted with key {key_id!r}, which is no longer configured.")
    try:
        blob = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        return AESGCM(key.secret).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode()).decode()
    except (InvalidTag, binascii.Error, ValueError):
        raise VaultError("The stored token failed its integrity check (tampered or moved from another row).") from None


class SealedTextField(models.TextField):
    """A column holding vault ciphertext, bound to its row and field by ``context_for``.

    Key rotation finds every sealed value in the database through this class.
    """


def context_for(model, pk, field_name):
    """The associated data of one sealed value: ``<app>.<model>:<pk>:<field>``."""
    return f"{model._meta.label_lower}:{pk}:{field_name}"
