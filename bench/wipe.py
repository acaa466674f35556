"""Removing what a benchmark made, fast (no side effects on import: the tests use it too)."""


def wipe_posts_in_sql(tenants):
    """Delete the tenants' posts, their history and every row pointing at them in plain SQL, in one
    transaction. Through the ORM every deleted post sends post_delete and writes a history row, one INSERT
    each: a million of them take most of an hour, which is set-up, not what any benchmark measures."""
    from django.db import DEFAULT_DB_ALIAS, transaction

    from posts.models import SocialPost

    posts = SocialPost._base_manager.filter(tenant_id__in=tenants)
    with transaction.atomic():
        for relation in SocialPost._meta.related_objects:
            if relation.one_to_many or relation.one_to_one:
                relation.related_model._base_manager.filter(
                    **{f"{relation.field.name}__in": posts.values("pk")})._raw_delete(DEFAULT_DB_ALIAS)
        SocialPost.history.model._base_manager.filter(tenant_id__in=tenants)._raw_delete(DEFAULT_DB_ALIAS)
        posts._raw_delete(DEFAULT_DB_ALIAS)
