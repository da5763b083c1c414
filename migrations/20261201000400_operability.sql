-- Operability (issue 10): the stats API speaks the seed apps' language.
--
-- executions_stats is redefined (dropped and created again, its function filter is now a list):
-- * a function filter matches the bare id the seeds used (`execute-query`) as well as the
--   app-prefixed id Inngest reports (`inngest-app-execute-query`): the caller passes both;
-- * `totalSteps` (and `steps` per function, day and user) count step.run steps, as the seeds'
--   did ("sleeps are free"); `billedSteps` beside them is what Inngest bills (every step, or
--   step.run only with INNGEST_BILL_ALL_STEPS=false), and the cost is computed from it.

drop function public.executions_stats(
    timestamptz, timestamptz, text, text, numeric, numeric, boolean, boolean, bigint, timestamptz
);

-- Everything the stats API reports, aggregated here (never in Python).
-- p_function_ids: the ids a function filter matches (a bare `execute-query` and the app's
-- `inngest-app-execute-query`); null: every function.
create function public.executions_stats(
    p_start timestamptz, p_end timestamptz, p_function_ids text[], p_user_id text,
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
           and (p_function_ids is null or function_id = any(p_function_ids))
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
           and (p_function_ids is null or function_id = any(p_function_ids))
    ), billed as (
        select *, step_runs + case when p_bill_all_steps then other_steps else 0 end as billed_steps
          from groups
    ), buckets as (
        select function_id, /* monitoring_duration_bucket, inlined (see bench/search_path.py) */
               least(59, greatest(0, ceil(3 * ln(greatest(coalesce(duration_ms, 1), 1)::float8) / ln(2::float8))::integer)) as bucket,
               count(*) as n
          from raw where duration_ms is not null group by 1, 2
        union all
        select d.function_id, (h.ordinality - 1)::integer, h.n
          from public.execution_daily_durations d, unnest(d.hist) with ordinality h(n, ordinality)
         where rolled and d.day >= first_full and d.day < full_until and h.n > 0
           and (p_function_ids is null or d.function_id = any(p_function_ids))
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
        select user_id, sum(runs) as n, sum(step_runs) as steps,
               sum(step_runs + case when p_bill_all_steps then other_steps else 0 end) as billed
          from (select user_id, count(*) as runs, sum(step_count) as step_runs,
                       sum(other_step_count) as other_steps
                  from raw where user_id is not null group by user_id
                union all
                select user_id, runs, step_runs, other_steps from public.execution_daily_users
                 where rolled and p_function_ids is null
                   and day >= first_full and day < full_until) u
         group by user_id
    ), totals as (
        select coalesce(sum(runs), 0) as executions,
               coalesce(sum(runs) filter (where status = 'completed'), 0) as successful,
               coalesce(sum(runs) filter (where status = 'failed'), 0) as failed,
               coalesce(sum(step_runs), 0) as steps,
               coalesce(sum(billed_steps), 0) as billed,
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
        'billedSteps', t.billed,
        'totalDurationMs', t.duration_ms,
        'averageDurationMs', coalesce(round(t.avg_ms)::bigint, 0),
        'estimatedCostUsd', round(t.billed * p_cost_per_step + t.executions * p_cost_per_run, 6),
        'byFunction', coalesce((
            select jsonb_agg(jsonb_build_object(
                'functionId', f.function_id, 'functionName', f.function_name, 'count', f.n,
                'steps', f.steps, 'billedSteps', f.billed,
                'avgDuration', coalesce(round(f.avg_ms)::bigint, 0),
                'p50DurationMs', p.p50, 'p95DurationMs', p.p95) order by f.n desc, f.function_id)
            from (select function_id, max(function_name) as function_name, sum(runs) as n,
                         sum(step_runs) as steps, sum(billed_steps) as billed,
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
                'billedSteps', billed,
                'avgDurationMs', coalesce(round(avg_ms)::bigint, 0)) order by day)
            from (select day, sum(runs) as n, sum(step_runs) as steps, sum(billed_steps) as billed,
                         sum(duration_sum)::numeric / nullif(sum(duration_n), 0) as avg_ms
                    from billed group by day) d), '[]'::jsonb),
        'byUser', case when p_include_users then coalesce((
            select jsonb_agg(jsonb_build_object('userId', user_id, 'count', n, 'steps', steps,
                                              'billedSteps', billed)
                             order by n desc, user_id)
            from users), '[]'::jsonb) end,
        'recentFailures', coalesce((
            select jsonb_agg(jsonb_build_object('functionId', function_id, 'runId', run_id,
                                                'errorMessage', error_message,
                                                'startedAt', started_at) order by started_at desc)
            from (select function_id, run_id, error_message, started_at
                    from public.inngest_function_executions
                   where status = 'failed' and started_at >= p_start and started_at < p_end
                     and (p_function_ids is null or function_id = any(p_function_ids))
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

select public.app_lock_down_functions();
