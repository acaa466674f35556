"""Walks the original "Social Models" document and checks every field, default, unique rule and index exists."""

import re
from pathlib import Path

import pytest
from django.db import models

from connections.models import SocialConnection
from posts.models import SocialPost
from promotions.models import EventPromotion

SEED = Path(__file__).resolve().parents[2] / "docs" / "seed-social-models.txt"
MODELS = {"SocialConnection": SocialConnection, "SocialPost": SocialPost, "EventPromotion": EventPromotion}
# Seed relations and the Django field that carries them.
RELATION_IDS = {"tenantId": "tenant", "clubId": "club", "connectionId": "connection", "campaignId": "campaign",
                "segmentId": "segment", "emailTemplateId": "email_template", "smsTemplateId": "sms_template"}


def snake(name):
    return RELATION_IDS.get(name) or re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def parse_seed():
    blocks = {}
    for name, body in re.findall(r"model (\w+) \{\n(.*?)\n\}", SEED.read_text(), re.S):
        fields, uniques, indexes = [], [], []
        for line in body.splitlines():
            line = line.split("//")[0].strip()
            if not line:
                continue
            if line.startswith("@@"):
                cols = [snake(c.strip()) for c in re.search(r"\[(.*)\]", line).group(1).split(",")]
                (uniques if line.startswith("@@unique") else indexes).append(cols)
                continue
            field_name, field_type, *attrs = line.split()
            if field_type[0].isupper() and field_type.rstrip("?[]") in MODELS or field_type.rstrip("?[]") == "Campaign":
                continue  # relation navigation fields; the ...Id column carries the relation
            fields.append((field_name, field_type, " ".join(attrs)))
        blocks[name] = (fields, uniques, indexes)
    return blocks


SEED_MODELS = parse_seed()


def test_seed_document_is_read():
    assert set(SEED_MODELS) == set(MODELS)
    assert sum(len(fields) for fields, _, _ in SEED_MODELS.values()) == 60  # 18 + 23 + 19 fields in the seed


@pytest.mark.parametrize("model_name", sorted(MODELS))
def test_every_seed_field_exists_with_its_nullability_and_default(model_name):
    model = MODELS[model_name]
    fields, _, _ = SEED_MODELS[model_name]
    for seed_name, seed_type, attrs in fields:
        field = model._meta.get_field(snake(seed_name))
        optional = seed_type.endswith("?")
        if seed_name != "id":
            assert field.null == optional, f"{model_name}.{seed_name}: nullability differs from the seed"
        if seed_type.endswith("[]"):
            assert isinstance(field, models.JSONField), f"{model_name}.{seed_name} must hold a list"
        base = seed_type.rstrip("?[]")
        expected_class = {"Boolean": models.BooleanField, "Int": models.IntegerField, "DateTime": models.DateTimeField}.get(base)
        if expected_class and not seed_type.endswith("[]"):
            assert isinstance(field, expected_class), f"{model_name}.{seed_name} should be {base}"
        default = re.search(r"@default\((.*)\)$", attrs)
        if default and seed_name != "id":
            value = default.group(1)
            if value == "now()":
                assert field.auto_now_add, f"{model_name}.{seed_name} defaults to now"
                continue
            expected = {"true": True, "false": False, "[]": []}.get(value)
            if expected is None:
                if value.startswith("["):
                    expected = [int(x) for x in value.strip("[]").split(",")]
                else:
                    expected = int(value) if value.isdigit() else value
            actual = field.default() if callable(field.default) else field.default
            assert actual == expected, f"{model_name}.{seed_name} default {actual!r} != seed {expected!r}"
        if "@updatedAt" in attrs:
            assert field.auto_now
        if seed_name == "id":
            assert field.primary_key and isinstance(field, models.UUIDField)


@pytest.mark.parametrize("model_name", sorted(MODELS))
def test_every_seed_unique_rule_and_index_exists(model_name):
    model = MODELS[model_name]
    _, uniques, indexes = SEED_MODELS[model_name]
    declared_uniques = [list(c.fields) for c in model._meta.constraints if isinstance(c, models.UniqueConstraint) and c.condition is None]
    for cols in uniques:
        assert cols in declared_uniques, f"{model_name}: unique {cols} missing"
    declared_indexes = [list(i.fields) for i in model._meta.indexes if i.condition is None]
    for cols in indexes:
        assert cols in declared_indexes, f"{model_name}: index {cols} missing"


def test_index_strategy_table_is_served():
    text = SEED.read_text().split("Index Strategy", 1)[1]
    rows = re.findall(r"\| (.+?) \| \((.+?)\) \|", text)
    assert len(rows) == 8
    targets = {"connections": SocialConnection, "posts": SocialPost, "promotions": EventPromotion}
    for pattern, cols in rows:
        # The first domain word of the query pattern names the table ("Posts for connection" → posts).
        found = {key: pattern.lower().find(key.rstrip("s")) for key in targets}
        model = targets[min((pos, key) for key, pos in found.items() if pos >= 0)[1]]
        wanted = [snake(c.strip()) for c in cols.split(",")]
        declared = [list(i.fields) for i in model._meta.indexes]
        assert wanted in declared, f"index strategy '{pattern}': {wanted} missing on {model.__name__}"


def test_posts_cascade_when_their_connection_is_deleted():
    assert SocialPost._meta.get_field("connection").remote_field.on_delete is models.CASCADE


def test_due_posts_have_a_partial_index():
    due = [i for i in SocialPost._meta.indexes if i.condition is not None and i.fields == ["scheduled_at"]]
    assert due and "SCHEDULED" in str(due[0].condition)
