"""The billing SQL functions on a real Postgres: once per event, in order, nothing half-written."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import asyncpg
import pytest

from inngest_app.repos.billing import BillingRepo, PaymentState, SubscriptionState
from inngest_app.store import PostgresTransport, StoreError
from inngest_app.store.postgres import create_pool

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def at(seconds: int) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, min_size=1, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture
def repo(pool: asyncpg.Pool) -> BillingRepo:
    return BillingRepo(PostgresTransport(pool))


def sub(status: str = "active", **changes: object) -> SubscriptionState:
    values: dict[str, object] = {
        "subscription_id": "sub_1",
        "customer_id": "cus_1",
        "status": status,
        "price_id": "price_1",
        "current_period_end": at(30 * 86400),
        "cancel_at_period_end": False,
    }
    values.update(changes)
    return SubscriptionState.model_validate(values)


def pay(status: str = "succeeded", **changes: object) -> PaymentState:
    values: dict[str, object] = {
        "payment_intent_id": "pi_1",
        "amount": 2000,
        "currency": "USD",
        "status": status,
        "customer_id": "cus_1",
    }
    values.update(changes)
    return PaymentState.model_validate(values)


async def count(pool: asyncpg.Pool, table: str) -> int:
    value = await pool.fetchval(f"select count(*) from public.{table}")  # noqa: S608
    return int(value)


async def test_subscription_event_applies_once(repo: BillingRepo, pool: asyncpg.Pool) -> None:
    first = await repo.sync_subscription(
        event_id="evt_1",
        event_type="customer.subscription.created",
        created=at(0),
        subscription=sub(),
    )
    again = await repo.sync_subscription(
        event_id="evt_1",
        event_type="customer.subscription.created",
        created=at(0),
        subscription=sub("canceled"),
    )
    assert first.outcome == "applied" and first.subscription is not None
    assert first.subscription.status == "active" and first.subscription.last_event_id == "evt_1"
    assert again.duplicate and again.processed_at == first.processed_at
    assert await pool.fetchval("select status from subscriptions") == "active"
    assert await count(pool, "stripe_events") == 1


async def test_an_older_event_changes_nothing(repo: BillingRepo, pool: asyncpg.Pool) -> None:
    await repo.sync_subscription(
        event_id="evt_new",
        event_type="customer.subscription.updated",
        created=at(10),
        subscription=sub("past_due", price_id="price_2"),
    )
    old = await repo.sync_subscription(
        event_id="evt_old",
        event_type="customer.subscription.updated",
        created=at(5),
        subscription=sub("active"),
    )
    assert old.outcome == "stale"
    row = await pool.fetchrow("select * from subscriptions")
    assert (row["status"], row["price_id"], row["last_event_id"]) == (
        "past_due",
        "price_2",
        "evt_new",
    )
    outcomes = dict(await pool.fetch("select event_id, outcome from stripe_events"))
    assert outcomes == {"evt_new": "applied", "evt_old": "stale"}


async def test_same_second_events_apply_in_arrival_order(repo: BillingRepo) -> None:
    await repo.sync_subscription(
        event_id="evt_a", event_type="t", created=at(5), subscription=sub("incomplete")
    )
    second = await repo.sync_subscription(
        event_id="evt_b", event_type="t", created=at(5), subscription=sub("active")
    )
    assert second.outcome == "applied"
    assert second.subscription is not None and second.subscription.status == "active"


async def test_partial_state_keeps_the_fields_it_does_not_name(
    repo: BillingRepo, pool: asyncpg.Pool
) -> None:
    await repo.sync_subscription(
        event_id="evt_1",
        event_type="t",
        created=at(0),
        subscription=sub(cancel_at_period_end=True),
    )
    partial = SubscriptionState(subscription_id="sub_1", customer_id="cus_1", status="past_due")
    await repo.sync_subscription(
        event_id="evt_2", event_type="invoice.payment_failed", created=at(1), subscription=partial
    )
    row = await pool.fetchrow("select * from subscriptions")
    assert (row["status"], row["price_id"], row["cancel_at_period_end"]) == (
        "past_due",
        "price_1",
        True,
    )
    assert row["current_period_end"] == at(30 * 86400)


async def test_an_event_about_no_subscription_is_recorded_as_ignored(
    repo: BillingRepo, pool: asyncpg.Pool
) -> None:
    result = await repo.sync_subscription(
        event_id="evt_1", event_type="invoice.paid", created=at(0), subscription=None
    )
    assert result.outcome == "ignored" and result.subscription is None
    assert await count(pool, "subscriptions") == 0 and await count(pool, "stripe_events") == 1


async def test_checkout_links_the_customer_and_fills_in_earlier_rows(
    repo: BillingRepo, pool: asyncpg.Pool
) -> None:
    # Stripe may deliver the subscription's own events before the checkout that names the user.
    await repo.sync_subscription(
        event_id="evt_s", event_type="t", created=at(5), subscription=sub()
    )
    await repo.record_payment(event_id="evt_p", event_type="t", created=at(5), payment=pay())
    result = await repo.apply_checkout(
        event_id="evt_c",
        event_type="checkout.session.completed",
        created=at(3),
        user_id="user-1",
        customer_id="cus_1",
        livemode=False,
        subscription=sub(status="incomplete"),
        payment=None,
    )
    assert result.outcome == "applied" and result.subscription_outcome == "stale"
    assert result.subscription is not None and result.subscription.status == "active"
    assert result.subscription.user_id == "user-1"
    assert (
        await pool.fetchval("select user_id from billing_customers where customer_id = 'cus_1'")
        == "user-1"
    )
    assert await pool.fetchval("select user_id from payments") == "user-1"
    # Later events for the customer find the user through the link.
    later = await repo.sync_subscription(
        event_id="evt_s2", event_type="t", created=at(9), subscription=sub(subscription_id="sub_2")
    )
    assert later.subscription is not None and later.subscription.user_id == "user-1"


async def test_checkout_in_payment_mode_records_the_payment(repo: BillingRepo) -> None:
    result = await repo.apply_checkout(
        event_id="evt_c",
        event_type="checkout.session.completed",
        created=at(0),
        user_id="u",
        customer_id=None,
        livemode=True,
        subscription=None,
        payment=pay(customer_id=None),
    )
    assert result.payment is not None
    assert (result.payment.user_id, result.payment.currency, result.payment.status) == (
        "u",
        "usd",
        "succeeded",
    )


async def test_a_bad_call_writes_nothing(repo: BillingRepo, pool: asyncpg.Pool) -> None:
    with pytest.raises(StoreError) as caught:
        await repo.apply_checkout(
            event_id="evt_c",
            event_type="t",
            created=at(0),
            user_id="",
            customer_id="cus_1",
            livemode=False,
            subscription=None,
            payment=pay(),
        )
    assert not caught.value.retriable
    # A failure after the ledger claim rolls the claim back with it.
    with pytest.raises(StoreError):
        await repo.sync_subscription(
            event_id="evt_s",
            event_type="t",
            created=at(0),
            subscription=sub().model_copy(update={"customer_id": None}),  # type: ignore[arg-type]
        )
    for table in ("stripe_events", "billing_customers", "subscriptions", "payments"):
        assert await count(pool, table) == 0


async def test_a_succeeded_payment_is_not_undone_by_a_late_failure(
    repo: BillingRepo, pool: asyncpg.Pool
) -> None:
    await repo.record_payment(
        event_id="evt_1",
        event_type="t",
        created=at(1),
        payment=pay("failed", failure_code="card_declined", failure_message="declined"),
    )
    ok = await repo.record_payment(event_id="evt_2", event_type="t", created=at(2), payment=pay())
    assert (
        ok.payment is not None
        and ok.payment.status == "succeeded"
        and ok.payment.failure_code is None
    )
    late = await repo.record_payment(
        event_id="evt_3", event_type="t", created=at(3), payment=pay("failed", failure_code="x")
    )
    assert late.outcome == "stale"
    assert await pool.fetchval("select status from payments") == "succeeded"


async def test_concurrent_runs_of_one_event_apply_once(
    repo: BillingRepo, pool: asyncpg.Pool
) -> None:
    results = await asyncio.gather(
        *(
            repo.record_payment(event_id="evt_1", event_type="t", created=at(0), payment=pay())
            for _ in range(4)
        )
    )
    assert sorted(r.outcome for r in results) == ["applied", "duplicate", "duplicate", "duplicate"]
    assert await count(pool, "stripe_events") == 1 and await count(pool, "payments") == 1


async def test_deliveries_are_kept_and_counted(repo: BillingRepo) -> None:
    first = await repo.record_delivery(
        event_id="evt_1", event_type="invoice.paid", created=at(0), livemode=False, body='{"a":1}'
    )
    assert first.deliveries == 1 and first.forwarded_at is None
    again = await repo.record_delivery(
        event_id="evt_1", event_type="invoice.paid", created=at(0), livemode=False, body='{"a":1}'
    )
    assert again.deliveries == 2
    await repo.mark_forwarded(event_id="evt_1")
    stored = await repo.get_delivery(event_id="evt_1")
    assert stored is not None and stored.body == '{"a":1}' and stored.forwarded_at is not None
    assert stored.forwards == 1
    assert await repo.get_delivery(event_id="evt_none") is None
