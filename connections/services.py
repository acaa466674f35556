from dataclasses import dataclass, field

from django.db import transaction

from connections import vault
from connections.models import SocialConnection


@dataclass
class RotationReport:
    key_id: str
    rotated: int = 0
    already_current: int = 0
    failed: list = field(default_factory=list)


def connection_rotate_token_keys(*, batch_size=200):
    """Re-encrypt every connection's tokens under the first configured key.

    Each row is locked and rewritten in its own transaction, so a failure leaves no half-written row.
    """
    key_id = vault.configured_keys()[0].key_id
    report = RotationReport(key_id=key_id)
    ids = list(SocialConnection.objects.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), batch_size):
        for pk in ids[start:start + batch_size]:
            with transaction.atomic():
                connection = SocialConnection.objects.select_for_update().filter(pk=pk).first()
                if connection is None:
                    continue
                current = vault.key_id_of(connection.access_token) == key_id and (
                    connection.refresh_token is None or vault.key_id_of(connection.refresh_token) == key_id
                )
                if current:
                    report.already_current += 1
                    continue
                try:
                    connection.reencrypt_tokens()
                except vault.VaultError:
                    report.failed.append(pk)
                    continue
                connection.save(update_fields=["access_token", "refresh_token"])
                report.rotated += 1
    return report
