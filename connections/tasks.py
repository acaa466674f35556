from celery import shared_task

from connections.models import SocialConnection
from connections.oauth import oauth_attempts_purge
from connections.services import connection_keep_fresh, connections_due_for_refresh
from platforms import AuthExpired, PlatformError


@shared_task(name="connections.refresh_expiring_tokens")
def refresh_expiring_tokens():
    """Fan out: one refresh task per connection that is due."""
    due = connections_due_for_refresh()
    for connection_id, tenant_id in due:
        refresh_connection_tokens.delay(connection_id=str(connection_id), tenant_id=tenant_id)
    return len(due)


@shared_task(name="connections.refresh_connection_tokens")
def refresh_connection_tokens(*, connection_id, tenant_id):
    connection = SocialConnection.objects.filter(pk=connection_id, tenant_id=tenant_id).first()
    if connection is None or not connection.is_active:
        return "gone"
    try:
        return connection_keep_fresh(connection=connection)
    except AuthExpired:
        return "needs-reconnect"  # final: staff must reconnect; recorded on the connection
    except PlatformError:
        return "retry-next-round"  # recorded on the connection; the next periodic run tries again


@shared_task(name="connections.purge_oauth_attempts")
def purge_oauth_attempts():
    return oauth_attempts_purge()
