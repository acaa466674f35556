import pytest

from promotions import sms


@pytest.fixture(autouse=True)
def sms_outbox(settings):
    """Texts go to promotions.sms.outbox (like Django's locmem email backend) and start empty."""
    settings.SMS_BACKEND = "promotions.sms.LocmemSmsBackend"
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()
