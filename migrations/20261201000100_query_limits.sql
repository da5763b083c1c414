-- Per-user cap on active (pending or running) queries, checked and applied atomically: an
-- advisory lock per user serialises concurrent starts, so two requests cannot both pass a count.

create index if not exists queries_user_active on public.queries (user_id)
    where status in ('pending', 'running');

create or replace function public.query_active_lock(p_user_id text) returns integer
language sql
set search_path = public, pg_temp
as $$
    select pg_advisory_xact_lock(hashtextextended('query-active:' || p_user_id, 0));
    select count(*)::integer from public.queries
     where user_id = p_user_id and status in ('pending', 'running');
$$;

-- A new pending query, unless the user already has p_max_active active ones.
-- {"created": bool, "active": n, "query": {...}}
create or replace function public.query_create_limited(
    p_user_id text, p_config jsonb, p_max_pages integer, p_max_rows integer, p_max_active integer
) returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    active integer := public.query_active_lock(p_user_id);
    q public.queries;
begin
    if active >= p_max_active then
        return jsonb_build_object('created', false, 'active', active);
    end if;
    insert into public.queries (user_id, config, max_pages, max_rows)
    values (p_user_id, p_config, p_max_pages, p_max_rows)
    returning * into q;
    return jsonb_build_object('created', true, 'active', active + 1, 'query', public.query_json(q));
end;
$$;

-- Resume a paused or retriably failed query, unless its user is at the cap (a query that
-- cannot resume is reported as such, whatever the count).
-- {"resumed": bool, "limited": bool, "query": {...} or null}
create or replace function public.query_resume_limited(p_id uuid, p_max_active integer)
returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    owner text;
    active integer;
    resumed jsonb;
begin
    select user_id into owner from public.queries
     where id = p_id and (status = 'paused' or (status = 'failed' and retriable));
    if not found then  -- not resumable: say so rather than "too many"
        return jsonb_build_object('resumed', false, 'limited', false, 'query', null);
    end if;
    active := public.query_active_lock(owner);
    if active >= p_max_active then
        return jsonb_build_object('resumed', false, 'limited', true, 'query', null);
    end if;
    resumed := public.query_resume(p_id);
    return jsonb_build_object('resumed', resumed is not null, 'limited', false, 'query', resumed);
end;
$$;

select public.app_lock_down_functions();
