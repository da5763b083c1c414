-- Billing: Stripe customers, subscriptions and payments, the ledger of processed Stripe events,
-- and the verified webhook deliveries.
--
-- Every effect of a Stripe event runs in ONE SQL function call (one transaction) that first claims
-- the event id in `stripe_events`: a second run for the same event finds its claim and changes
-- nothing. Stripe does not promise order, so subscriptions and payments remember the `created`
-- time of the event last applied to them and ignore older ones.

create table public.billing_customers (
    customer_id text primary key,
    user_id text not null,
    livemode boolean not null default false,
    linked_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index billing_customers_user_id_idx on public.billing_customers (user_id);
alter table public.billing_customers enable row level security;

create table public.subscriptions (
    subscription_id text primary key,
    -- Null until the customer is linked to a user (a subscription event can precede checkout).
    user_id text,
    customer_id text not null,
    status text not null,
    price_id text,
    current_period_end timestamptz,
    cancel_at_period_end boolean not null default false,
    last_event_id text not null,
    last_event_created timestamptz not null,
    updated_at timestamptz not null default now()
);
create index subscriptions_user_id_idx on public.subscriptions (user_id);
create index subscriptions_customer_id_idx on public.subscriptions (customer_id);
alter table public.subscriptions enable row level security;

create table public.payments (
    payment_intent_id text primary key,
    user_id text,
    customer_id text,
    amount bigint not null check (amount >= 0),
    currency text not null,
    status text not null check (status in ('succeeded', 'failed', 'processing')),
    failure_code text,
    failure_message text,
    last_event_id text not null,
    last_event_created timestamptz not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index payments_user_id_idx on public.payments (user_id);
create index payments_customer_id_idx on public.payments (customer_id);
alter table public.payments enable row level security;

-- The ledger: one row per Stripe event whose effect has been applied (or deliberately skipped).
create table public.stripe_events (
    event_id text primary key,
    type text not null,
    created timestamptz not null,
    outcome text not null check (outcome in ('applied', 'stale', 'ignored')),
    processed_at timestamptz not null default now()
);
alter table public.stripe_events enable row level security;

-- Verified webhook deliveries, kept for replay. Redeliveries of one event update its row.
create table public.stripe_deliveries (
    event_id text primary key,
    type text not null,
    created timestamptz not null,
    livemode boolean not null,
    body text not null,
    received_at timestamptz not null default now(),
    deliveries integer not null default 1,
    forwarded_at timestamptz,
    forwards integer not null default 0
);
create index stripe_deliveries_unforwarded_idx on public.stripe_deliveries (received_at)
    where forwarded_at is null;
alter table public.stripe_deliveries enable row level security;

-- ---------------------------------------------------------------------------------------------
-- Deliveries

-- The delivery log does not wait for its commit to reach disk (`synchronous_commit` off, for
-- these transactions only): the webhook answers only once Inngest holds the event, so a crash
-- in that window loses a log row, never an event; the billing writes below stay fully durable.
create or replace function public.stripe_record_delivery(
    p_event_id text, p_type text, p_created timestamptz, p_livemode boolean, p_body text
) returns jsonb language sql as $$
    select set_config('synchronous_commit', 'off', true);
    insert into public.stripe_deliveries as d (event_id, type, created, livemode, body)
    values (p_event_id, p_type, p_created, p_livemode, p_body)
    on conflict (event_id) do update
        set received_at = now(), deliveries = d.deliveries + 1, body = excluded.body
    returning jsonb_build_object(
        'event_id', event_id, 'type', type, 'deliveries', deliveries,
        'received_at', received_at, 'forwarded_at', forwarded_at);
$$;

create or replace function public.stripe_mark_forwarded(p_event_id text)
returns jsonb language sql as $$
    select set_config('synchronous_commit', 'off', true);
    update public.stripe_deliveries
    set forwarded_at = now(), forwards = forwards + 1
    where event_id = p_event_id
    returning jsonb_build_object(
        'event_id', event_id, 'forwarded_at', forwarded_at, 'forwards', forwards);
$$;

create or replace function public.stripe_get_delivery(p_event_id text)
returns jsonb language sql stable as $$
    select to_jsonb(d) from public.stripe_deliveries d where d.event_id = p_event_id;
$$;

-- ---------------------------------------------------------------------------------------------
-- The ledger and the effects (internal helpers are called only from the entry points below)

-- Claims an event id for this transaction; false when it was already processed (or is being
-- processed by a concurrent transaction, which this one then waits for).
create or replace function public.billing_claim_event(
    p_event_id text, p_type text, p_created timestamptz
) returns boolean language plpgsql as $$
begin
    if p_event_id is null or p_event_id = '' then
        raise exception 'p_event_id is required';
    end if;
    insert into public.stripe_events (event_id, type, created, outcome)
    values (p_event_id, p_type, p_created, 'applied')
    on conflict (event_id) do nothing;
    return found;
end;
$$;

create or replace function public.billing_settle_event(p_event_id text, p_outcome text)
returns jsonb language sql as $$
    update public.stripe_events set outcome = p_outcome, processed_at = now()
    where event_id = p_event_id
    returning jsonb_build_object('event_id', event_id, 'type', type, 'created', created,
                                 'outcome', outcome, 'processed_at', processed_at);
$$;

create or replace function public.billing_duplicate(p_event_id text)
returns jsonb language sql stable as $$
    select jsonb_build_object('event_id', event_id, 'type', type, 'created', created,
                              'outcome', 'duplicate', 'processed_at', processed_at)
    from public.stripe_events where event_id = p_event_id;
$$;

-- Upserts one subscription from a partial state: keys absent from p_sub keep their value.
-- Returns 'applied', or 'stale' when a newer event was already applied to it.
create or replace function public.billing_upsert_subscription(
    p_sub jsonb, p_event_id text, p_created timestamptz
) returns text language plpgsql as $$
declare
    v_id text := p_sub ->> 'subscription_id';
    v_customer text := p_sub ->> 'customer_id';
    v_user text;
begin
    if v_id is null or v_customer is null or p_sub ->> 'status' is null then
        raise exception 'subscription_id, customer_id and status are required';
    end if;
    v_user := coalesce(
        p_sub ->> 'user_id',
        (select c.user_id from public.billing_customers c where c.customer_id = v_customer));
    insert into public.subscriptions as s (
        subscription_id, user_id, customer_id, status, price_id, current_period_end,
        cancel_at_period_end, last_event_id, last_event_created)
    values (
        v_id, v_user, v_customer, p_sub ->> 'status', p_sub ->> 'price_id',
        (p_sub ->> 'current_period_end')::timestamptz,
        coalesce((p_sub ->> 'cancel_at_period_end')::boolean, false), p_event_id, p_created)
    on conflict (subscription_id) do update set
        user_id = coalesce(excluded.user_id, s.user_id),
        customer_id = excluded.customer_id,
        status = excluded.status,
        price_id = case when p_sub ? 'price_id' then excluded.price_id else s.price_id end,
        current_period_end = case when p_sub ? 'current_period_end'
                                  then excluded.current_period_end
                                  else s.current_period_end end,
        cancel_at_period_end = case when p_sub ? 'cancel_at_period_end'
                                    then excluded.cancel_at_period_end
                                    else s.cancel_at_period_end end,
        last_event_id = excluded.last_event_id,
        last_event_created = excluded.last_event_created,
        updated_at = now()
    -- Equal times apply: Stripe's `created` has one-second resolution.
    where s.last_event_created <= excluded.last_event_created;
    if found then
        return 'applied';
    end if;
    -- Stale for the state, but a user learnt since is still worth keeping.
    update public.subscriptions set user_id = v_user
    where subscription_id = v_id and user_id is null and v_user is not null;
    return 'stale';
end;
$$;

-- Upserts one payment. A succeeded payment is final: a later failure report does not undo it.
create or replace function public.billing_upsert_payment(
    p_pay jsonb, p_event_id text, p_created timestamptz
) returns text language plpgsql as $$
declare
    v_id text := p_pay ->> 'payment_intent_id';
    v_customer text := p_pay ->> 'customer_id';
    v_user text;
begin
    if v_id is null or p_pay ->> 'amount' is null or p_pay ->> 'currency' is null
       or p_pay ->> 'status' is null then
        raise exception 'payment_intent_id, amount, currency and status are required';
    end if;
    v_user := coalesce(
        p_pay ->> 'user_id',
        (select c.user_id from public.billing_customers c where c.customer_id = v_customer));
    insert into public.payments as p (
        payment_intent_id, user_id, customer_id, amount, currency, status, failure_code,
        failure_message, last_event_id, last_event_created)
    values (
        v_id, v_user, v_customer, (p_pay ->> 'amount')::bigint, lower(p_pay ->> 'currency'),
        p_pay ->> 'status', p_pay ->> 'failure_code', p_pay ->> 'failure_message', p_event_id,
        p_created)
    on conflict (payment_intent_id) do update set
        user_id = coalesce(excluded.user_id, p.user_id),
        customer_id = coalesce(excluded.customer_id, p.customer_id),
        amount = excluded.amount,
        currency = excluded.currency,
        status = excluded.status,
        failure_code = excluded.failure_code,
        failure_message = excluded.failure_message,
        last_event_id = excluded.last_event_id,
        last_event_created = excluded.last_event_created,
        updated_at = now()
    where p.last_event_created <= excluded.last_event_created
      and (p.status <> 'succeeded' or excluded.status = 'succeeded');
    if found then
        return 'applied';
    end if;
    update public.payments set user_id = v_user
    where payment_intent_id = v_id and user_id is null and v_user is not null;
    return 'stale';
end;
$$;

create or replace function public.billing_subscription_json(p_id text)
returns jsonb language sql stable as $$
    select to_jsonb(s) from public.subscriptions s where s.subscription_id = p_id;
$$;

create or replace function public.billing_payment_json(p_id text)
returns jsonb language sql stable as $$
    select to_jsonb(p) from public.payments p where p.payment_intent_id = p_id;
$$;

-- ---------------------------------------------------------------------------------------------
-- Entry points: one per kind of Stripe event, each one transaction.

-- checkout.session.completed: link the customer to the user, then activate the subscription
-- (subscription mode) or record the payment (payment mode).
create or replace function public.billing_apply_checkout(
    p_event_id text, p_type text, p_created timestamptz, p_user_id text, p_customer_id text,
    p_livemode boolean, p_subscription jsonb, p_payment jsonb
) returns jsonb language plpgsql as $$
declare
    v_outcome text := 'applied';
    v_sub text;
    v_pay text;
begin
    if p_user_id is null or p_user_id = '' then
        raise exception 'p_user_id is required';
    end if;
    if not public.billing_claim_event(p_event_id, p_type, p_created) then
        return public.billing_duplicate(p_event_id);
    end if;
    if p_customer_id is not null then
        insert into public.billing_customers as c (customer_id, user_id, livemode)
        values (p_customer_id, p_user_id, coalesce(p_livemode, false))
        on conflict (customer_id) do update
            set user_id = excluded.user_id, updated_at = now()
            where c.user_id is distinct from excluded.user_id;
        -- Events for this customer that arrived before the checkout had no user to name.
        update public.subscriptions set user_id = p_user_id
        where customer_id = p_customer_id and user_id is null;
        update public.payments set user_id = p_user_id
        where customer_id = p_customer_id and user_id is null;
    end if;
    if p_subscription is not null then
        v_sub := public.billing_upsert_subscription(
            p_subscription || jsonb_build_object('user_id', p_user_id), p_event_id, p_created);
    end if;
    if p_payment is not null then
        v_pay := public.billing_upsert_payment(
            p_payment || jsonb_build_object('user_id', p_user_id), p_event_id, p_created);
    end if;
    return public.billing_settle_event(p_event_id, v_outcome)
        || jsonb_build_object(
            'user_id', p_user_id, 'customer_id', p_customer_id,
            'subscription_outcome', v_sub, 'payment_outcome', v_pay,
            'subscription', public.billing_subscription_json(p_subscription ->> 'subscription_id'),
            'payment', public.billing_payment_json(p_payment ->> 'payment_intent_id'));
end;
$$;

-- customer.subscription.* and invoice.*: bring one subscription to the event's state
-- (p_subscription null: the event concerns no subscription and is only recorded).
create or replace function public.billing_sync_subscription(
    p_event_id text, p_type text, p_created timestamptz, p_subscription jsonb
) returns jsonb language plpgsql as $$
declare
    v_outcome text := 'ignored';
begin
    if not public.billing_claim_event(p_event_id, p_type, p_created) then
        return public.billing_duplicate(p_event_id);
    end if;
    if p_subscription is not null then
        v_outcome := public.billing_upsert_subscription(p_subscription, p_event_id, p_created);
    end if;
    return public.billing_settle_event(p_event_id, v_outcome)
        || jsonb_build_object(
            'subscription', public.billing_subscription_json(p_subscription ->> 'subscription_id'));
end;
$$;

-- payment_intent.*: record the payment's state.
create or replace function public.billing_record_payment(
    p_event_id text, p_type text, p_created timestamptz, p_payment jsonb
) returns jsonb language plpgsql as $$
declare
    v_outcome text;
begin
    if p_payment is null then
        raise exception 'p_payment is required';
    end if;
    if not public.billing_claim_event(p_event_id, p_type, p_created) then
        return public.billing_duplicate(p_event_id);
    end if;
    v_outcome := public.billing_upsert_payment(p_payment, p_event_id, p_created);
    return public.billing_settle_event(p_event_id, v_outcome)
        || jsonb_build_object(
            'payment', public.billing_payment_json(p_payment ->> 'payment_intent_id'));
end;
$$;

select public.app_lock_down_functions();
