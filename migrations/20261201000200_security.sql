-- Security hardening (issue 9): the rollup refresh never makes stats calls queue, and on Supabase
-- the client roles (anon, authenticated) get nothing: no table privileges (TRUNCATE included, which
-- RLS does not govern), no EXECUTE, and every function in `public` pins its search_path.

-- Redefined from 20261122000200_monitoring.sql: `for update skip locked` instead of `for update`,
-- and the duration bucket written out (see executions_stats below).
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

-- Redefined from 20261122000200_monitoring.sql, unchanged but for the pinned search_path and
-- the duration bucket written out: a function with a SET clause is never inlined and each call
-- saves and restores the setting (15x slower per row, see bench/search_path.py), so the per-row
-- helper stays for the one-off uses and the per-row uses spell its expression out.
create or replace function public.executions_stats(
    p_start timestamptz, p_end timestamptz, p_function_id text, p_user_id text,
    p_cost_per_step numeric, p_cost_per_run numeric, p_bill_all_steps boolean,
    p_include_users boolean, p_quota bigint, p_now timestamptz
) returns jsonb language plpgsql
-- a generic plan cannot prune the raw/rollup branches: plan each call for its own window
set plan_cache_mode = force_custom_plan
set search_path = public, pg_temp as $$
declare
    today date := (now() at time zone 'UTC')::date;
    first_full date := case
        when p_start = date_trunc('day', p_start at time zone 'UTC') at time zone 'UTC'
        then (p_start at time zone 'UTC')::date else (p_start at time zone 'UTC')::date + 1 end;
    full_until date := least((p_end at time zone 'UTC')::date, today);
    month_start timestamptz := date_trunc('month', p_now at time zone 'UTC') at time zone 'UTC';
    month_end timestamptz := (date_trunc('month', p_now at time zone 'UTC') + interval '1 month')
                             at time zone 'UTC';
    rolled boolean;
    month_rolled boolean := p_user_id is null;
    result jsonb;
begin
    perform public.monitoring_refresh_rollups();
    rolled := p_user_id is null and first_full < full_until;
    with raw as (
        select * from public.inngest_function_executions
         where started_at >= p_start and started_at < p_end
           and (p_function_id is null or function_id = p_function_id)
           and (p_user_id is null or user_id = p_user_id)
           and (not rolled
                or started_at < first_full::timestamp at time zone 'UTC'
                or started_at >= full_until::timestamp at time zone 'UTC')
    ), groups as (
        select (started_at at time zone 'UTC')::date as day, function_id,
               max(function_name) as function_name, trigger_type, status, count(*) as runs,
               sum(step_count) as step_runs, sum(other_step_count) as other_steps,
               coalesce(sum(duration_ms), 0) as duration_sum, count(duration_ms) as duration_n
          from raw group by 1, function_id, trigger_type, status
        union all
        select day, function_id, function_name, trigger_type, status, runs, step_runs,
               other_steps, duration_sum, duration_n
          from public.execution_daily
         where rolled and day >= first_full and day < full_until
           and (p_function_id is null or function_id = p_function_id)
    ), billed as (
        select *, step_runs + case when p_bill_all_steps then other_steps else 0 end as steps
          from groups
    ), buckets as (
        select function_id, /* monitoring_duration_bucket, inlined */
               least(59, greatest(0, ceil(3 * ln(greatest(coalesce(duration_ms, 1), 1)::float8) / ln(2::float8))::integer)) as bucket,
               count(*) as n
          from raw where duration_ms is not null group by 1, 2
        union all
        select d.function_id, (h.ordinality - 1)::integer, h.n
          from public.execution_daily_durations d, unnest(d.hist) with ordinality h(n, ordinality)
         where rolled and d.day >= first_full and d.day < full_until and h.n > 0
           and (p_function_id is null or d.function_id = p_function_id)
    ), cumulative as (
        select function_id, bucket,
               sum(n) over (partition by function_id order by bucket) as upto,
               sum(n) over (partition by function_id) as total
          from (select function_id, bucket, sum(n) as n from buckets group by 1, 2) b
    ), percentiles as (
        select function_id,
               public.monitoring_bucket_upper_ms(min(bucket) filter (where upto >= 0.5 * total)) as p50,
               public.monitoring_bucket_upper_ms(min(bucket) filter (where upto >= 0.95 * total)) as p95
          from cumulative group by function_id
    ), users as (
        select user_id, sum(runs) as n,
               sum(step_runs + case when p_bill_all_steps then other_steps else 0 end) as steps
          from (select user_id, count(*) as runs, sum(step_count) as step_runs,
                       sum(other_step_count) as other_steps
                  from raw where user_id is not null group by user_id
                union all
                select user_id, runs, step_runs, other_steps from public.execution_daily_users
                 where rolled and p_function_id is null
                   and day >= first_full and day < full_until) u
         group by user_id
    ), totals as (
        select coalesce(sum(runs), 0) as executions,
               coalesce(sum(runs) filter (where status = 'completed'), 0) as successful,
               coalesce(sum(runs) filter (where status = 'failed'), 0) as failed,
               coalesce(sum(steps), 0) as steps,
               coalesce(sum(duration_sum), 0) as duration_ms,
               sum(duration_sum)::numeric / nullif(sum(duration_n), 0) as avg_ms
          from billed
    ), month as (
        select coalesce(sum(steps), 0) as steps from (
            select step_count + case when p_bill_all_steps then other_step_count else 0 end as steps
              from public.inngest_function_executions
             where started_at >= case when month_rolled
                                      then greatest(month_start, today::timestamp at time zone 'UTC')
                                      else month_start end
               and started_at < month_end
               and (p_user_id is null or user_id = p_user_id)
            union all
            select step_runs + case when p_bill_all_steps then other_steps else 0 end
              from public.execution_daily
             where month_rolled and day >= (month_start at time zone 'UTC')::date and day < today
        ) m
    ), month_span as (
        select extract(epoch from p_now - month_start) as elapsed,
               extract(epoch from month_end - month_start) as length
    )
    select jsonb_build_object(
        'totalExecutions', t.executions,
        'successfulExecutions', t.successful,
        'failedExecutions', t.failed,
        'totalSteps', t.steps,
        'totalDurationMs', t.duration_ms,
        'averageDurationMs', coalesce(round(t.avg_ms)::bigint, 0),
        'estimatedCostUsd', round(t.steps * p_cost_per_step + t.executions * p_cost_per_run, 6),
        'byFunction', coalesce((
            select jsonb_agg(jsonb_build_object(
                'functionId', f.function_id, 'functionName', f.function_name, 'count', f.n,
                'steps', f.steps, 'avgDuration', coalesce(round(f.avg_ms)::bigint, 0),
                'p50DurationMs', p.p50, 'p95DurationMs', p.p95) order by f.n desc, f.function_id)
            from (select function_id, max(function_name) as function_name, sum(runs) as n,
                         sum(steps) as steps,
                         sum(duration_sum)::numeric / nullif(sum(duration_n), 0) as avg_ms
                    from billed group by function_id) f
            left join percentiles p using (function_id)), '[]'::jsonb),
        'byTriggerType', coalesce((
            select jsonb_agg(jsonb_build_object('triggerType', trigger_type, 'count', n)
                             order by n desc, trigger_type)
            from (select trigger_type, sum(runs) as n from billed group by trigger_type) g),
            '[]'::jsonb),
        'byDay', coalesce((
            select jsonb_agg(jsonb_build_object(
                'date', to_char(day, 'YYYY-MM-DD'), 'executions', n, 'steps', steps,
                'avgDurationMs', coalesce(round(avg_ms)::bigint, 0)) order by day)
            from (select day, sum(runs) as n, sum(steps) as steps,
                         sum(duration_sum)::numeric / nullif(sum(duration_n), 0) as avg_ms
                    from billed group by day) d), '[]'::jsonb),
        'byUser', case when p_include_users then coalesce((
            select jsonb_agg(jsonb_build_object('userId', user_id, 'count', n, 'steps', steps)
                             order by n desc, user_id)
            from users), '[]'::jsonb) end,
        'recentFailures', coalesce((
            select jsonb_agg(jsonb_build_object('functionId', function_id, 'runId', run_id,
                                                'errorMessage', error_message,
                                                'startedAt', started_at) order by started_at desc)
            from (select function_id, run_id, error_message, started_at
                    from public.inngest_function_executions
                   where status = 'failed' and started_at >= p_start and started_at < p_end
                     and (p_function_id is null or function_id = p_function_id)
                     and (p_user_id is null or user_id = p_user_id)
                   order by started_at desc limit 20) r), '[]'::jsonb),
        'quota', jsonb_build_object(
            'monthlyStepQuota', p_quota,
            'stepsThisMonth', m.steps,
            'forecastStepsThisMonth', case when s.elapsed > 0
                then round(m.steps * s.length / s.elapsed)::bigint else m.steps end,
            'percentUsed', case when p_quota > 0 then round(m.steps * 100.0 / p_quota, 2) end,
            'forecastExceedsQuota', case when p_quota > 0 and s.elapsed > 0
                then m.steps * s.length / s.elapsed > p_quota end)
    ) into result
    from totals t, month m, month_span s;
    return result;
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
