"""The demo's plan: orders that fit the schemas they claim, duplicates that come later with the
same identity, one poison record of each kind that fails the way the summary says, and
expected figures that add up."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumer.avro_codec import AvroDecoder, AvroEncoder
from consumer.demo_data import (
    BAD_BYTES,
    DEAD_LETTER_REASONS,
    DUPLICATE,
    INCOMPATIBLE,
    ORDER,
    POISON_KINDS,
    REFUND,
    TRUNCATED,
    plan_orders,
)
from consumer.demo_setup import encode
from consumer.registry_client import WriterSchema

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
IDS = {"v1": 1, "v2": 2, "v3": 3}


def schema(version: str) -> dict:
    return json.loads((SCHEMAS / f"orders-{version}.avsc").read_text())


class Registry:
    """The registry as the decoder sees it: writer schemas by id."""

    def schema(self, schema_id: int) -> WriterSchema:
        version = next(v for v, i in IDS.items() if i == schema_id)
        definition = schema(version)
        return WriterSchema(schema_id, json.dumps(definition), definition,
                            fastavro.parse_schema(definition))


ENCODERS = {version: AvroEncoder(i, schema(version)) for version, i in IDS.items()}


@settings(max_examples=40, deadline=None)
@given(count=st.integers(10, 600), seed=st.integers(0, 2**32))
def test_the_plan_adds_up_and_duplicates_repeat_an_earlier_order(count, seed):
    plan = plan_orders(count, run_id="abc123", seed=seed, start_ms=1_795_000_000_000)
    kinds = Counter(record.kind for record in plan.records)
    assert kinds[ORDER] + kinds[REFUND] == count
    assert kinds[REFUND] == 1
    assert kinds[DUPLICATE] == max(1, round(count * 0.03))
    assert all(kinds[kind] == 1 for kind in POISON_KINDS)

    first_seen: dict[str, int] = {}
    for position, record in enumerate(plan.records):
        if record.kind != DUPLICATE:
            assert record.message_id not in first_seen, "an order id was reused"
            first_seen[record.message_id] = position
            continue
        original = plan.records[first_seen[record.message_id]]
        assert first_seen[record.message_id] < position
        assert (original.kind, original.key, original.order) == (ORDER, record.key, record.order)

    expected = plan.expected()
    assert expected.processed + expected.duplicates + sum(expected.dead_letters.values()) \
        == len(plan.records)
    assert expected.distinct_valid_orders == count - 1
    fixed = plan.expected(refunds_accepted=True)
    assert fixed.distinct_valid_orders == count
    assert DEAD_LETTER_REASONS[REFUND] not in fixed.dead_letters


def test_the_same_seed_plans_the_same_stream_under_other_ids():
    first = plan_orders(300, run_id="aaaaaa", seed=7, start_ms=0)
    second = plan_orders(300, run_id="bbbbbb", seed=7, start_ms=0)
    assert [r.kind for r in first.records] == [r.kind for r in second.records]
    assert {r.message_id for r in first.records}.isdisjoint(r.message_id for r in second.records)


def test_every_order_fits_its_schema_and_reads_as_v1():
    plan = plan_orders(400, run_id="abc123", seed=11, start_ms=1_795_000_000_000)
    decoder = AvroDecoder(Registry(), schema("v1"))  # type: ignore[arg-type]
    versions = Counter()
    for record in plan.records:
        if record.kind in (ORDER, DUPLICATE, REFUND):
            value, _ = decoder.decode(encode(record, ENCODERS))
            versions[record.schema] += 1
            assert value["order_id"] == record.message_id
            assert value["amount_cents"] == record.order["amount_cents"]
    assert versions["v1"] and versions["v2"], "the producers upgrade from v1 to v2 midway"
    refund = next(r for r in plan.records if r.kind == REFUND)
    assert refund.order["amount_cents"] < 0 and refund.order["status"] == "REFUNDED"


@pytest.mark.parametrize("kind", [BAD_BYTES, TRUNCATED, INCOMPATIBLE])
def test_each_poison_record_fails_with_the_error_class_the_summary_names(kind):
    plan = plan_orders(200, run_id="abc123", seed=3, start_ms=1_795_000_000_000)
    record = next(r for r in plan.records if r.kind == kind)
    decoder = AvroDecoder(Registry(), schema("v1"))  # type: ignore[arg-type]
    with pytest.raises(Exception) as failure:
        decoder.decode(encode(record, ENCODERS))
    error = failure.value
    assert f"{type(error).__module__}.{type(error).__qualname__}" == DEAD_LETTER_REASONS[kind][1]


def test_a_plan_needs_a_few_orders():
    with pytest.raises(ValueError):
        plan_orders(3, run_id="abc123", seed=1, start_ms=0)
