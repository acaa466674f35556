import pytest

# pytest_plugins = ["simulator.pytest_plugin"]


@pytest.fixture
def tenant(db):
    from crm.tests.factories import TenantFactory

    return TenantFactory()


@pytest.fixture
def club(tenant):
    from crm.tests.factories import ClubFactory

    return ClubFactory(tenant=tenant)


@pytest.fixture
def staff_user(tenant):
    from crm.tests.factories import StaffFactory

    return StaffFactory(tenant=tenant).user
