-- Query hand-over: a long query runs as a chain of runs, each a bounded slice of pages, so no
-- run nears Inngest's 1,000-step limit. The handing run leaves the query `running` (the API shows
-- one query throughout) but owned by a hand-over token instead of its run id; the run started by
-- the continuation event carries that token and claims the query with it, continuing from the
-- checkpoint (pages_completed, next_cursor) already in this row. The token names the query, the
-- pages done and the handing run, so a retried hand-over (same run, same checkpoint) gives the
-- same token, and no one who does not know the run's id can forge it.

-- {"handed_over": bool, "token": text, "query": {...}}
create or replace function public.query_hand_over(p_id uuid, p_run_id text, p_pages integer)
returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    q public.queries;
    token text := 'handover:' || p_id::text || ':' || p_pages::text || ':' || p_run_id;
begin
    update public.queries set run_id = token, updated_at = now()
     where id = p_id and status = 'running' and run_id = p_run_id and pages_completed = p_pages
    returning * into q;
    if not found then
        select * into q from public.queries where id = p_id;
        if not found then
            raise exception 'query % does not exist', p_id;
        end if;
        if not (q.status = 'running' and q.run_id = token) then  -- cancelled, or not ours
            return jsonb_build_object('handed_over', false, 'token', token,
                                      'query', public.query_json(q));
        end if;  -- else a retried hand-over whose first attempt committed
    end if;
    return jsonb_build_object('handed_over', true, 'token', token, 'query', public.query_json(q));
end;
$$;

-- The continuation run takes the query with the token (idempotent for the same run), the same
-- shape as query_claim: {"claimed": bool, "query": {...}}.
create or replace function public.query_claim_handed(p_id uuid, p_run_id text, p_token text)
returns jsonb
language plpgsql
set search_path = public, pg_temp
as $$
declare
    q public.queries;
begin
    update public.queries set run_id = p_run_id, updated_at = now()
     where id = p_id and status = 'running' and (run_id = p_token or run_id = p_run_id)
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

-- Redefined from 20261122000300_queries.sql: a continuation run that fails before it claims the
-- query (it still holds the hand-over token) leaves it failed and resumable, never stuck running.
create or replace function public.query_fail(
    p_id uuid, p_run_id text, p_error text, p_code text, p_retriable boolean
) returns jsonb
language sql
set search_path = public, pg_temp
as $$
    update public.queries
       set status = 'failed', last_error = p_error, error_code = p_code,
           retriable = p_retriable, updated_at = now()
     where id = p_id and status in ('pending', 'running')
       and (run_id is null or run_id is not distinct from p_run_id
            or starts_with(run_id, 'handover:' || p_id::text || ':' || pages_completed::text || ':'))
    returning public.query_json(queries);
$$;

select public.app_lock_down_functions();
