-- The usage dashboard's extras beside the stats API's body: failed runs per function (for the
-- failure rate) and the recorded usage alerts of a window. Read-only; nothing redefined.

-- a user's failed runs without visiting each of their runs (the per-user stats read raw rows)
create index executions_user_failures on public.inngest_function_executions (user_id, started_at)
    where status = 'failed' and user_id is not null;

create or replace function public.monitoring_dashboard_extras(
    p_start timestamptz, p_end timestamptz, p_user_id text, p_include_alerts boolean
) returns jsonb language plpgsql stable
set search_path = public, pg_temp
-- like executions_stats: plan each call for its own window (raw rows vs daily rollups)
set plan_cache_mode = force_custom_plan as $$
declare
    today date := (now() at time zone 'UTC')::date;
    first_full date := case
        when p_start = date_trunc('day', p_start at time zone 'UTC') at time zone 'UTC'
        then (p_start at time zone 'UTC')::date else (p_start at time zone 'UTC')::date + 1 end;
    full_until date := least((p_end at time zone 'UTC')::date, today);
    -- the rollups have no user dimension per function: a user's numbers come from raw rows
    rolled boolean := p_user_id is null and first_full < full_until;
begin
    return jsonb_build_object(
        'failedByFunction', coalesce((
            select jsonb_object_agg(function_id, n)
              from (select function_id, sum(n) as n from (
                        select function_id, count(*) as n
                          from public.inngest_function_executions
                         where status = 'failed' and started_at >= p_start and started_at < p_end
                           and (p_user_id is null or user_id = p_user_id)
                           and (not rolled
                                or started_at < first_full::timestamp at time zone 'UTC'
                                or started_at >= full_until::timestamp at time zone 'UTC')
                         group by function_id
                        union all
                        select function_id, sum(runs)
                          from public.execution_daily
                         where rolled and status = 'failed'
                           and day >= first_full and day < full_until
                         group by function_id) u
                     group by function_id) f), '{}'::jsonb),
        'alerts', case when p_include_alerts then coalesce((
            select jsonb_agg(jsonb_build_object(
                       'id', a.id, 'kind', a.kind, 'observed', a.observed,
                       'threshold', a.threshold, 'windowStart', a.window_start,
                       'windowEnd', a.window_end, 'notified', a.notified)
                   order by a.window_start desc, a.id desc)
              from (select * from public.monitoring_alerts
                     where window_end > p_start and window_start < p_end
                     order by window_start desc, id desc limit 50) a), '[]'::jsonb) end);
end;
$$;

select public.app_lock_down_functions();
