"""The benchmarks' bulk loads (B2, B5) write posts with raw SQL: they must keep up with the schema.

A NOT NULL column added to posts without a database default breaks those INSERTs only when the
benchmark runs; here the same statements run at a tiny size against the migrated test database.
The statements are read from the files (not imported: importing bench.common starts a Redis).
"""

import ast
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

ROOT = Path(__file__).resolve().parents[2]


def load_sql(name):
    tree = ast.parse((ROOT / "bench" / name).read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "LOAD_SQL" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"no LOAD_SQL in bench/{name}")


def run(statements, values):
    with connection.cursor() as cursor:
        for sql in statements:
            for key, value in values.items():
                sql = sql.replace(f"%({key})s", str(value))
            cursor.execute(sql)
        cursor.execute("SELECT count(*) FROM posts_socialpost")
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_b2_load_inserts_posts_with_every_required_column():
    assert run(load_sql("b2_database.py"), {"tenants": 3, "posts": 60, "due": 2}) == 60


@pytest.mark.django_db
def test_b5_load_inserts_posts_with_every_required_column():
    tenants = ["b5-big"] + [f"b5-other-{n:02d}" for n in range(1, 3)]
    values = {"tenants": "ARRAY[" + ", ".join(f"'{t}'" for t in tenants) + "]", "total": 50, "big": 30, "others": 2}
    assert run(load_sql("b5_api.py"), values) == 50


@pytest.mark.django_db
def test_the_benchmarks_wipe_a_tenants_posts_and_what_points_at_them_without_touching_another_tenant():
    from bench.wipe import wipe_posts_in_sql
    from posts.models import PostMetricSnapshot, SocialPost
    from posts.tests.factories import SocialPostFactory

    gone = SocialPostFactory.create_batch(3)
    kept = SocialPostFactory()
    for post in gone + [kept]:
        PostMetricSnapshot.objects.create(post=post, likes=1, taken_at=timezone.now())
        post.content += " (edited)"
        post.save()  # a history row each
    tenant = gone[0].tenant_id
    SocialPost.objects.filter(pk__in=[p.pk for p in gone]).update(tenant_id=tenant)
    SocialPost.history.filter(id__in=[p.pk for p in gone]).update(tenant_id=tenant)
    assert kept.tenant_id != tenant

    wipe_posts_in_sql([tenant])

    assert not SocialPost.objects.filter(tenant_id=tenant).exists()
    assert not PostMetricSnapshot.objects.filter(post_id__in=[p.pk for p in gone]).exists()
    assert not SocialPost.history.filter(tenant_id=tenant).exists()
    assert SocialPost.objects.filter(pk=kept.pk).exists() and PostMetricSnapshot.objects.filter(post=kept).exists()
    assert SocialPost.history.filter(id=kept.pk).count() == 2
