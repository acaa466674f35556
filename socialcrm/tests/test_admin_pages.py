import pytest
from django.contrib import admin
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from connections.tests.factories import SocialConnectionFactory
from crm.demo import seed_demo
from posts.tests.factories import SocialPostFactory

pytestmark = pytest.mark.django_db
OUR_APPS = {"crm", "connections", "posts", "promotions", "notifications"}


def our_models():
    return [model for model in admin.site._registry if model._meta.app_label in OUR_APPS]


def test_every_model_of_the_product_is_in_admin():
    from django.apps import apps

    registered = {model._meta.label for model in our_models()}
    for app in OUR_APPS:
        for model in apps.get_app_config(app).get_models():
            assert model._meta.label in registered, f"{model._meta.label} is not in admin"


def test_admin_lists_and_opens_every_model_without_showing_tokens(admin_client):
    seed_demo(members=20)
    conn = SocialConnectionFactory(tokens=("admin-visible-access", "admin-visible-refresh"))
    SocialPostFactory(connection=conn)
    call_command("setup_periodic_tasks")
    for model in our_models():
        meta = model._meta
        listing = admin_client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
        assert listing.status_code == 200, meta.label
        first = model.objects.first()
        if first is not None:
            detail = admin_client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[first.pk]))
            assert detail.status_code == 200, meta.label
            body = detail.content.decode()
            assert "admin-visible-" not in body and conn.access_token not in body


def test_tenant_admin_sees_admin_for_their_tenant():
    seed_demo(members=5)
    client = Client()
    assert client.login(username="demo", password="demo")
    for model in our_models():
        meta = model._meta
        response = client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
        assert response.status_code in (200, 403), meta.label
    assert client.get(reverse("admin:crm_member_changelist")).status_code == 200
