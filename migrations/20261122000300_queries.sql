-- Query executor: paginated exports, one durable step a page.
-- Invariant: a page's rows and the checkpoint that counts them commit in ONE function call
-- (`query_store_page`), so a crash can neither lose a page nor count it twice.

create table public.queries (
    id uuid primary key default gen_random_uuid(),
    user_id text not null,
    config jsonb not null,
    status text not null default 'pending'
        check (status in ('pending', 'running', 'paused', 'completed', 'failed', 'cancelled')),
    run_id text,
    pages_completed integer not null default 0,
    rows_inserted bigint not null default 0,
    next_cursor jsonb,
    max_pages integer not null check (max_pages > 0),
    max_rows integer not null check (max_rows > 0),
    last_error text,
    error_code text,
    retriable boolean not null default false,
    resume_after timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    completed_at timestamptz
);
create index queries_user_created on public.queries (user_id, created_at desc);
alter table public.queries enable row level security;

create table public.query_results (
    id bigint generated always as identity primary key,
    query_id uuid not null references public.queries (id) on delete cascade,
    row_key text not null,
    page_number integer not null,
    row jsonb not null,
    unique (query_id, row_key)
);
alter table public.query_results enable row level security;

create or replace function public.query_json(q public.queries) returns jsonb
language sql immutable as $$
    select jsonb_build_object(
        'id', q.id, 'user_id', q.user_id, 'config', q.config, 'status', q.status,
        'run_id', q.run_id, 'pages_completed', q.pages_completed,
        'rows_inserted', q.rows_inserted, 'next_cursor', q.next_cursor,
        'max_pages', q.max_pages, 'max_rows', q.max_rows, 'last_error', q.last_error,
        'error_code', q.error_code, 'retriable', q.retriable, 'resume_after', q.resume_after,
        'created_at', q.created_at, 'updated_at', q.updated_at, 'completed_at', q.completed_at);
$$;

create or replace function public.query_create(
    p_user_id text, p_config jsonb, p_max_pages integer, p_max_rows integer
) returns jsonb language sql as $$
    insert into public.queries (user_id, config, max_pages, max_rows)
    values (p_user_id, p_config, p_max_pages, p_max_rows)
    returning public.query_json(queries);
$$;

create or replace function public.query_get(p_id uuid) returns jsonb
language sql stable as $$
    select public.query_json(q) from public.queries q where q.id = p_id;
$$;

-- Compare-and-set: only a pending query (or one this same run already holds) may run.
create or replace function public.query_claim(p_id uuid, p_run_id text) returns jsonb
language plpgsql as $$
declare
    q public.queries;
begin
    update public.queries set status = 'running', run_id = p_run_id, updated_at = now(),
           resume_after = null
     where id = p_id and (status = 'pending' or (status = 'running' and run_id = p_run_id))
     returning * into q;
    if found then
        return jsonb_build_object('claimed', true, 'query', public.query_json(q));
    end if;
    select * into q from public.queries where id = p_id;
    if not found then
        raise exception 'query % does not exist', p_id;
    end if;
    return jsonb_build_object('claimed', false, 'query', public.query_json(q));
end;
$$;

-- One page: rows (deduplicated on row key) and the checkpoint, atomically and idempotently.
-- p_rows is [{"key": ..., "row": {...}}, ...].
create or replace function public.query_store_page(
    p_id uuid, p_run_id text, p_page integer, p_rows jsonb, p_next_cursor jsonb, p_done boolean
) returns jsonb language plpgsql as $$
declare
    q public.queries;
    inserted bigint;
begin
    select * into q from public.queries where id = p_id for update;
    if not found then
        raise exception 'query % does not exist', p_id;
    end if;
    if q.status <> 'running' or q.run_id is distinct from p_run_id then
        return jsonb_build_object('stored', false, 'reason', 'not running', 'query', public.query_json(q));
    end if;
    if q.pages_completed >= p_page then
        -- a retried step whose first attempt committed: count nothing twice
        return jsonb_build_object('stored', false, 'reason', 'already stored', 'query', public.query_json(q));
    end if;
    if q.pages_completed <> p_page - 1 then
        raise exception 'page % out of order: % pages stored', p_page, q.pages_completed;
    end if;
    with rows as (
        select r ->> 'key' as row_key, r -> 'row' as row
        from jsonb_array_elements(p_rows) r
    ), ins as (
        insert into public.query_results (query_id, row_key, page_number, row)
        select p_id, row_key, p_page, row from rows
        on conflict (query_id, row_key) do nothing
        returning 1
    )
    select count(*) into inserted from ins;
    update public.queries
       set pages_completed = p_page, rows_inserted = rows_inserted + inserted,
           next_cursor = p_next_cursor, last_error = null, error_code = null,
           status = case when p_done then 'completed' else status end,
           completed_at = case when p_done then now() else completed_at end,
           updated_at = now()
     where id = p_id
     returning * into q;
    return jsonb_build_object('stored', true, 'inserted', inserted, 'query', public.query_json(q));
end;
$$;

create or replace function public.query_complete(p_id uuid, p_run_id text) returns jsonb
language sql as $$
    update public.queries set status = 'completed', completed_at = now(), updated_at = now()
     where id = p_id and status = 'running' and run_id = p_run_id
    returning public.query_json(queries);
$$;

create or replace function public.query_pause(
    p_id uuid, p_run_id text, p_error text, p_code text, p_resume_after timestamptz
) returns jsonb language sql as $$
    update public.queries
       set status = 'paused', last_error = p_error, error_code = p_code,
           resume_after = p_resume_after, retriable = true, updated_at = now()
     where id = p_id and status = 'running' and run_id = p_run_id
    returning public.query_json(queries);
$$;

create or replace function public.query_fail(
    p_id uuid, p_run_id text, p_error text, p_code text, p_retriable boolean
) returns jsonb language sql as $$
    update public.queries
       set status = 'failed', last_error = p_error, error_code = p_code,
           retriable = p_retriable, updated_at = now()
     where id = p_id and status in ('pending', 'running')
       and (run_id is null or run_id is not distinct from p_run_id)
    returning public.query_json(queries);
$$;

-- A paused, or retriably failed, query goes back to pending for a new run.
create or replace function public.query_resume(p_id uuid) returns jsonb
language sql as $$
    update public.queries
       set status = 'pending', run_id = null, resume_after = null, updated_at = now()
     where id = p_id and (status = 'paused' or (status = 'failed' and retriable))
    returning public.query_json(queries);
$$;

-- Auto-resume after a long rate limit: the same run takes the query back.
create or replace function public.query_unpause(p_id uuid, p_run_id text) returns jsonb
language sql as $$
    update public.queries set status = 'running', resume_after = null, updated_at = now()
     where id = p_id and status = 'paused' and run_id = p_run_id
    returning public.query_json(queries);
$$;

create or replace function public.query_cancel(p_id uuid) returns jsonb
language sql as $$
    update public.queries set status = 'cancelled', updated_at = now()
     where id = p_id and status in ('pending', 'running', 'paused')
    returning public.query_json(queries);
$$;

-- Keyset paging over a query's rows, in insertion order.
create or replace function public.query_results_page(p_id uuid, p_after bigint, p_limit integer)
returns jsonb language sql stable as $$
    with page as (
        select id, row_key, page_number, row from public.query_results
         where query_id = p_id and id > coalesce(p_after, 0)
         order by id limit p_limit
    )
    select jsonb_build_object(
        'rows', coalesce(jsonb_agg(jsonb_build_object(
            'id', id, 'key', row_key, 'page', page_number, 'row', row) order by id), '[]'::jsonb),
        'next', case when count(*) = p_limit then max(id) end)
    from page;
$$;

select public.app_lock_down_functions();
