-- Poison webhook deliveries: verified, but never storable or parseable (issue 22).
--
-- Answering such a delivery with an error makes the sender redeliver it for days; it is
-- acknowledged instead and recorded here once per distinct body (`key`, its SHA-256), a
-- redelivery only counting up. The body is kept as received, made storable (invalid UTF-8 and
-- NUL replaced) and cut to 64 KiB, for an operator to read.

create table public.webhook_rejections (
    source text not null,
    key text not null,
    event_id text,
    code text not null,
    reason text not null,
    body text not null,
    deliveries integer not null default 1,
    first_at timestamptz not null default now(),
    last_at timestamptz not null default now(),
    primary key (source, key)
);
alter table public.webhook_rejections enable row level security;

create or replace function public.webhook_reject(
    p_source text, p_key text, p_event_id text, p_code text, p_reason text, p_body text
) returns jsonb language sql as $$
    insert into public.webhook_rejections as r (source, key, event_id, code, reason, body)
    values (p_source, p_key, p_event_id, p_code, left(p_reason, 1000), left(p_body, 65536))
    on conflict (source, key) do update
        set deliveries = r.deliveries + 1, last_at = now()
    returning jsonb_build_object(
        'source', source, 'key', key, 'code', code, 'deliveries', deliveries);
$$;

select public.app_lock_down_functions();
