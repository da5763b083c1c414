-- Security hardening (issue 9): the rollup refresh never makes stats calls queue, and on Supabase
-- the client roles (anon, authenticated) get nothing: no table privileges (TRUNCATE included, which
-- RLS does not govern), no EXECUTE, and every function in `public` pins its search_path.

-- Redefined from 20261122000200_monitoring.sql: `for update skip locked` instead of `for update`,
-- and the duration bucket written out: a function with a SET clause is never inlined and each
-- call saves and restores the setting (15x slower per row, see bench/search_path.py), so the
-- per-row helper stays for one-off uses and per-row uses spell its expression out (as
-- executions_stats does, redefined in 20261201000400_operability.sql).
create or replace function public.monitoring_refresh_rollups() returns jsonb
language plpgsql set search_path = public, pg_temp as $$
declare
    since timestamptz;
    -- rows committed a little late carry an earlier updated_at: look back a minute each time
    upto timestamptz := clock_timestamp() - interval '1 minute';
    today_start timestamptz := date_trunc('day', now() at time zone 'UTC') at time zone 'UTC';
    days date[];
begin
    -- One refresh at a time, and nobody waits for it: a stats call that finds a refresh under
    -- way reads the rollups as last committed (plus the raw rows of today) instead of queueing.
    select watermark into since from public.execution_rollup_state for update skip locked;
    if not found then
        return jsonb_build_object('days', 0, 'skipped', true);
    end if;
    select array_agg(distinct (started_at at time zone 'UTC')::date) into days
      from public.inngest_function_executions
     where updated_at > since and started_at < today_start;
    if days is not null then
        delete from public.execution_daily where day = any(days);
        delete from public.execution_daily_durations where day = any(days);
        delete from public.execution_daily_users where day = any(days);
        create temporary table rollup_rows on commit drop as
            select (e.started_at at time zone 'UTC')::date as day, e.*
              from unnest(days) d(day)
              join public.inngest_function_executions e
                on e.started_at >= d.day::timestamp at time zone 'UTC'
               and e.started_at < (d.day + 1)::timestamp at time zone 'UTC';
        insert into public.execution_daily
            select day, function_id, max(function_name), trigger_type, status, count(*),
                   sum(step_count), sum(other_step_count), coalesce(sum(duration_ms), 0),
                   count(duration_ms)
              from rollup_rows group by day, function_id, trigger_type, status;
        insert into public.execution_daily_durations
            with counts as (
                select day, function_id, /* monitoring_duration_bucket, inlined */
                       least(59, greatest(0, ceil(3 * ln(greatest(coalesce(duration_ms, 1), 1)::float8) / ln(2::float8))::integer)) as bucket,
                       count(*) as n
                  from rollup_rows where duration_ms is not null group by 1, 2, 3
            ), keys as (select distinct day, function_id from counts)
            select k.day, k.function_id, array_agg(coalesce(c.n, 0) order by b.bucket)
              from keys k cross join generate_series(0, 59) b(bucket)
              left join counts c
                on c.day = k.day and c.function_id = k.function_id and c.bucket = b.bucket
             group by k.day, k.function_id;
        insert into public.execution_daily_users
            select day, user_id, count(*), sum(step_count), sum(other_step_count)
              from rollup_rows where user_id is not null group by day, user_id;
        drop table rollup_rows;
    end if;
    update public.execution_rollup_state set watermark = greatest(since, upto);
    return jsonb_build_object('days', coalesce(array_length(days, 1), 0));
end;
$$;

-- Redefined from 20261122000100_foundation.sql. Every migration ends with this call, so whatever a
-- later migration creates is locked down too:
--  * EXECUTE on functions: revoked from public, anon and authenticated, granted to service_role;
--  * search_path pinned (`public, pg_temp`) on every function that does not set one itself, so no
--    caller's search_path can put its own objects in front of ours;
--  * tables and sequences in `public`: every privilege revoked from anon and authenticated, and
--    the default privileges Supabase grants them on new ones taken back.
create or replace function public.app_lock_down_functions() returns void
language plpgsql set search_path = public, pg_temp as $$
declare
    fn record;
    client_roles boolean := exists (select 1 from pg_roles where rolname = 'anon')
                        and exists (select 1 from pg_roles where rolname = 'authenticated');
begin
    for fn in
        select p.oid::regprocedure as signature,
               not exists (select 1 from unnest(coalesce(p.proconfig, '{}')) c
                            where c like 'search_path=%') as unpinned
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = 'public' and p.prokind = 'f'
          and pg_get_userbyid(p.proowner) = current_user
          and not exists (select 1 from pg_depend d
                           where d.classid = 'pg_proc'::regclass and d.objid = p.oid
                             and d.deptype = 'e')
    loop
        execute format('revoke execute on function %s from public', fn.signature);
        if fn.unpinned then
            execute format('alter function %s set search_path = public, pg_temp', fn.signature);
        end if;
        if client_roles then
            execute format('revoke execute on function %s from anon, authenticated', fn.signature);
        end if;
        if exists (select 1 from pg_roles where rolname = 'service_role') then
            execute format('grant execute on function %s to service_role', fn.signature);
        end if;
    end loop;
    if client_roles then
        revoke all on all tables in schema public from anon, authenticated;
        revoke all on all sequences in schema public from anon, authenticated;
        alter default privileges in schema public revoke all on tables from anon, authenticated;
        alter default privileges in schema public revoke all on sequences from anon, authenticated;
        alter default privileges in schema public
            revoke execute on functions from public, anon, authenticated;
    end if;
end;
$$;

select public.app_lock_down_functions();
