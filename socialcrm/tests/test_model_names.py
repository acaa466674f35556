"""Admin lists name every model in correct English plurals ("deliveries", not "deliverys")."""

import re

from django.apps import apps

PROJECT_APPS = {"crm", "connections", "posts", "promotions", "notifications", "simulator"}
MISSPELT = re.compile(r"([^aeiou]ys|(ch|sh|ss|x)s|\bdata s)$")


def test_every_model_plural_is_spelt_right():
    wrong = {m._meta.label: str(m._meta.verbose_name_plural) for m in apps.get_models()
             if m._meta.app_label in PROJECT_APPS and MISSPELT.search(str(m._meta.verbose_name_plural))}
    assert not wrong


def test_named_plurals():
    assert str(apps.get_model("promotions", "PromotionDelivery")._meta.verbose_name_plural) == "promotion deliveries"
    assert str(apps.get_model("promotions", "PromotionDispatch")._meta.verbose_name_plural) == "promotion dispatches"
    assert str(apps.get_model("connections", "OAuthAttempt")._meta.verbose_name_plural) == "OAuth attempts"
