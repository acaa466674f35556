import phonenumbers
from django.core.exceptions import ValidationError

from socialcrm.inputs import date_in_range


def validate_e164(value):
    if not value:
        return
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(f"“{value}” is not a phone number in international format (+country code): {exc}.")
    if not phonenumbers.is_valid_number(number) or phonenumbers.format_number(
        number, phonenumbers.PhoneNumberFormat.E164
    ) != value:
        raise ValidationError(f"“{value}” is not a valid E.164 phone number, e.g. +447700900123.")


def validate_str_list(value):
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError("Must be a list of text values.")


def validate_int_list(value):
    if not isinstance(value, list) or not all(isinstance(item, int) and not isinstance(item, bool) for item in value):
        raise ValidationError("Must be a list of whole numbers.")


def validate_day_in_range(value):
    """A calendar day staff may type: within the accepted range (socialcrm.inputs), else a message naming it."""
    date_in_range(value)
