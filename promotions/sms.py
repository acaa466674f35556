"""Text messages go through a backend named by the SMS_BACKEND setting, like Django's email backends.

- ``ConsoleSmsBackend`` (default): writes each text to the log, for local use.
- ``LocmemSmsBackend``: keeps texts in ``promotions.sms.outbox``, for tests.
- ``HttpGatewaySmsBackend``: a real HTTP gateway (SMS_GATEWAY_URL, SMS_GATEWAY_TOKEN) over requests.
"""

import logging
from dataclasses import dataclass

import phonenumbers
import requests
from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

# Texts "sent" through LocmemSmsBackend, oldest first (tests empty it between runs).
outbox = []


class SmsError(Exception):
    """The text could not be handed to the gateway; the message says why in a person's words."""

    transient = False  # refused for good (a 4xx): retrying the same text would not help


class SmsTemporaryError(SmsError):
    """The gateway could not be reached, timed out or answered 5xx/429: worth another try later."""

    transient = True


@dataclass(frozen=True)
class SmsMessage:
    to: str
    body: str
    sender: str
    # Handed back untouched in the gateway's delivery receipts (promotions/sms_receipts.py).
    reference: str = ""


def e164(phone):
    """The number in E.164 form, or None when it is not a valid international number."""
    if not phone:
        return None
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return formatted if formatted == phone.strip() else None


def sender_e164(phone, *, region=None):
    """A reply's sender in E.164, however the gateway wrote it; None when it cannot be a phone number.

    "+44 7700 900123", "0044 7700 900123" and "447700900123" (international without the "+") all read
    as +447700900123; a national number ("07700 900123") is read in ``region`` (SMS_DEFAULT_REGION).
    """
    if not isinstance(phone, str) or not phone.strip() or len(phone) > 40 or "\x00" in phone:
        return None
    phone = phone.strip()
    region = region if region is not None else (settings.SMS_DEFAULT_REGION or None)
    digits = "".join(ch for ch in phone if ch.isdigit())
    candidates = [phone]
    if phone.startswith("00"):  # the international prefix most countries dial
        candidates.append("+" + digits[2:])
    elif not phone.startswith(("+", "0")) and digits:
        candidates.append("+" + digits)
    for candidate, candidate_region in [(c, None) for c in candidates] + ([(phone, region.upper())] if region else []):
        try:
            number = phonenumbers.parse(candidate, candidate_region)
        except phonenumbers.NumberParseException:
            continue
        # Possible, not necessarily valid: this only finds members, and a reserved range must still opt out.
        if phonenumbers.is_possible_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


def is_stop_reply(text):
    """A reply asking for no more texts: its first word (or all of it, run together) is one of SMS_STOP_WORDS.

    Case, punctuation and spacing do not matter: "Stop.", " STOP! ", "stop all" and "Stop All!" all count.
    """
    if not isinstance(text, str):
        return False
    words = "".join(ch if ch.isalnum() else " " for ch in text.upper()).split()
    if not words:
        return False
    keywords = {word.upper().replace(" ", "") for word in settings.SMS_STOP_WORDS}
    return words[0] in keywords or "".join(words) in keywords


class BaseSmsBackend:
    def send(self, message: SmsMessage) -> str:
        """Send one text; return the gateway's message id. Raise SmsError when it was refused."""
        raise NotImplementedError


class ConsoleSmsBackend(BaseSmsBackend):
    def send(self, message):
        logger.info("sms to %s from %s: %s", message.to, message.sender, message.body)
        return f"console-{len(message.body)}"


class LocmemSmsBackend(BaseSmsBackend):
    def send(self, message):
        outbox.append(message)
        return f"locmem-{len(outbox)}"


class HttpGatewaySmsBackend(BaseSmsBackend):
    """POSTs ``{"to", "from", "text", "reference"}`` as JSON with a bearer token; a 2xx answer with an ``id`` is success.

    The gateway posts signed delivery receipts naming ``reference`` to /promotions/sms/receipts/.
    """

    def __init__(self, *, url=None, token=None, timeout=None, session=None):
        self.url = url or settings.SMS_GATEWAY_URL
        self.token = token if token is not None else settings.SMS_GATEWAY_TOKEN
        self.timeout = timeout or settings.SMS_GATEWAY_TIMEOUT
        self.session = session or requests.Session()
        if not self.url:
            raise SmsError("Text messages are not set up: an administrator must configure the SMS gateway. "
                           "(SMS_GATEWAY_URL is not set.)")

    def send(self, message):
        try:
            response = self.session.post(
                self.url,
                json={"to": message.to, "from": message.sender, "text": message.body,
                      **({"reference": message.reference} if message.reference else {})},
                headers={"Authorization": f"Bearer {self.token}"},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise SmsTemporaryError(f"The SMS gateway could not be reached. ({exc.__class__.__name__})") from exc
        # A plain sentence first; what the gateway answered follows in brackets, as detail.
        said = f"HTTP {response.status_code}: {' '.join(response.text[:200].split())}"
        if response.status_code >= 500 or response.status_code == 429:
            raise SmsTemporaryError(f"The SMS gateway is unavailable for now. ({said})")
        if response.status_code >= 300:
            raise SmsError(f"The SMS gateway refused the text. ({said})")
        try:
            return str(response.json().get("id", ""))
        except ValueError:
            return ""


def get_sms_backend():
    return import_string(settings.SMS_BACKEND)()
