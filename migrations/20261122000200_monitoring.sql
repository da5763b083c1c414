-- Monitoring: one row per function run, upserted from the recorder's observations; stats in SQL.

create table public.inngest_function_executions (
    run_id text primary key,
    function_id text not null,
    function_name text,
    event_id text,
    event_name text,
    user_id text,
    workflow_id text,
    execution_id text,
    trigger_type text not null default 'event'
        check (trigger_type in ('manual', 'scheduled', 'webhook', 'polling', 'test', 'event')),
    status text not null default 'started'
        check (status in ('started', 'completed', 'failed', 'cancelled')),
    attempts integer not null default 1,
    duration_ms bigint,
    step_count integer not null default 0,        -- step.run steps: what Inngest bills per step
    other_step_count integer not null default 0,  -- sleeps, waits, invokes, sent events
    steps jsonb not null default '{}'::jsonb,     -- "<position>:<step id>" -> kind, merged idempotently
    steps_floor integer not null default 0,       -- most steps the SDK reported memoized (+ new)
    error_message text,
    error_stack text,
    started_at timestamptz not null,
    completed_at timestamptz,
    metadata jsonb not null default '{}'::jsonb,
    updated_at timestamptz not null default now()
);
create index executions_started on public.inngest_function_executions (started_at);
create index executions_function_started
    on public.inngest_function_executions (function_id, started_at);
create index executions_user_started
    on public.inngest_function_executions (user_id, started_at) where user_id is not null;
create index executions_failures
    on public.inngest_function_executions (started_at desc) where status = 'failed';
alter table public.inngest_function_executions enable row level security;

create table public.monitoring_alerts (
    id bigint generated always as identity primary key,
    kind text not null check (kind in ('steps', 'failures')),
    observed bigint not null,
    threshold bigint not null,
    window_start timestamptz not null,
    window_end timestamptz not null,
    notified boolean not null default false,
    created_at timestamptz not null default now(),
    unique (kind, window_start)
);
alter table public.monitoring_alerts enable row level security;

create or replace function public.monitoring_status_rank(p_status text) returns integer
language sql immutable as $$
    select case p_status when 'started' then 0 when 'failed' then 1 when 'completed' then 2
                         when 'cancelled' then 3 else 0 end;
$$;

-- step.run steps: those reported as StepRun, or more when the SDK said more were memoized
-- (a record lost in an outage must not lower the bill: the memo count is a floor).
create or replace function public.monitoring_step_runs(p_steps jsonb, p_floor integer)
returns integer language sql immutable as $$
    select greatest(
        (select count(*) from jsonb_each_text(p_steps) s where s.value = 'StepRun')::integer,
        p_floor - (select count(*) from jsonb_each_text(p_steps) s where s.value <> 'StepRun')::integer);
$$;

-- A batch of observations (one per SDK call or system event), folded into one row per run.
-- Idempotent: steps merge by id, times take the extremes, status only moves forward.
create or replace function public.executions_record(p_observations jsonb) returns jsonb
language sql as $$
    with obs as (
        select * from jsonb_to_recordset(p_observations) as o(
            run_id text, function_id text, function_name text, event_id text, event_name text,
            user_id text, workflow_id text, execution_id text, trigger_type text, status text,
            attempt integer, steps jsonb, steps_floor integer, error_message text, error_stack text,
            started_at timestamptz, observed_at timestamptz, metadata jsonb)
    ), folded as (
        select run_id,
               (array_agg(function_id order by observed_at))[1] as function_id,
               (array_agg(function_name order by observed_at) filter (where function_name is not null))[1] as function_name,
               (array_agg(event_id order by observed_at) filter (where event_id is not null))[1] as event_id,
               (array_agg(event_name order by observed_at) filter (where event_name is not null))[1] as event_name,
               (array_agg(user_id order by observed_at) filter (where user_id is not null))[1] as user_id,
               (array_agg(workflow_id order by observed_at) filter (where workflow_id is not null))[1] as workflow_id,
               (array_agg(execution_id order by observed_at) filter (where execution_id is not null))[1] as execution_id,
               coalesce((array_agg(trigger_type order by observed_at) filter (where trigger_type is not null))[1], 'event') as trigger_type,
               (array_agg(status order by public.monitoring_status_rank(status) desc, observed_at desc))[1] as status,
               max(coalesce(attempt, 0)) + 1 as attempts,
               max(coalesce(steps_floor, 0)) as steps_floor,
               (array_agg(error_message order by observed_at desc) filter (where error_message is not null))[1] as error_message,
               (array_agg(error_stack order by observed_at desc) filter (where error_stack is not null))[1] as error_stack,
               min(coalesce(started_at, observed_at)) as started_at,
               max(observed_at) filter (where status <> 'started') as completed_at,
               coalesce((array_agg(metadata order by observed_at desc) filter (where metadata is not null))[1], '{}'::jsonb) as metadata
        from obs
        group by run_id
    ), step_maps as (
        select o.run_id, jsonb_object_agg(s.key, s.value) as steps
        from obs o, jsonb_each(coalesce(o.steps, '{}'::jsonb)) s
        group by o.run_id
    ), upserted as (
        insert into public.inngest_function_executions as e (
            run_id, function_id, function_name, event_id, event_name, user_id, workflow_id,
            execution_id, trigger_type, status, attempts, steps, steps_floor, step_count,
            other_step_count,
            error_message, error_stack, started_at, completed_at, duration_ms, metadata)
        select f.run_id, f.function_id, f.function_name, f.event_id, f.event_name, f.user_id,
               f.workflow_id, f.execution_id, f.trigger_type, f.status, f.attempts,
               coalesce(m.steps, '{}'::jsonb), f.steps_floor,
               public.monitoring_step_runs(coalesce(m.steps, '{}'::jsonb), f.steps_floor),
               (select count(*) from jsonb_each_text(coalesce(m.steps, '{}'::jsonb)) s
                 where s.value <> 'StepRun'),
               f.error_message, f.error_stack, f.started_at, f.completed_at,
               case when f.completed_at is not null
                    then greatest(1, (extract(epoch from f.completed_at - f.started_at) * 1000)::bigint) end,
               f.metadata
        from folded f left join step_maps m using (run_id)
        on conflict (run_id) do update set
            function_name = coalesce(e.function_name, excluded.function_name),
            event_id = coalesce(e.event_id, excluded.event_id),
            event_name = coalesce(e.event_name, excluded.event_name),
            user_id = coalesce(e.user_id, excluded.user_id),
            workflow_id = coalesce(e.workflow_id, excluded.workflow_id),
            execution_id = coalesce(e.execution_id, excluded.execution_id),
            trigger_type = case when e.event_id is null then excluded.trigger_type else e.trigger_type end,
            status = case when public.monitoring_status_rank(excluded.status)
                               > public.monitoring_status_rank(e.status)
                          then excluded.status else e.status end,
            attempts = greatest(e.attempts, excluded.attempts),
            steps = e.steps || excluded.steps,
            steps_floor = greatest(e.steps_floor, excluded.steps_floor),
            step_count = public.monitoring_step_runs(e.steps || excluded.steps,
                                                     greatest(e.steps_floor, excluded.steps_floor)),
            other_step_count = (select count(*) from jsonb_each_text(e.steps || excluded.steps) s
                                where s.value <> 'StepRun'),
            error_message = coalesce(excluded.error_message, e.error_message),
            error_stack = coalesce(excluded.error_stack, e.error_stack),
            started_at = least(e.started_at, excluded.started_at),
            completed_at = coalesce(greatest(e.completed_at, excluded.completed_at),
                                    e.completed_at, excluded.completed_at),
            duration_ms = case
                when coalesce(excluded.completed_at, e.completed_at) is null then null
                else greatest(1, (extract(epoch from
                    coalesce(greatest(e.completed_at, excluded.completed_at), e.completed_at,
                             excluded.completed_at)
                    - least(e.started_at, excluded.started_at)) * 1000)::bigint) end,
            metadata = e.metadata || excluded.metadata,
            updated_at = now()
        returning 1
    )
    select jsonb_build_object('runs', count(*)) from upserted;
$$;

-- Everything the stats API reports, aggregated here (never in Python).
create or replace function public.executions_stats(
    p_start timestamptz, p_end timestamptz, p_function_id text, p_user_id text,
    p_cost_per_step numeric, p_cost_per_run numeric, p_bill_all_steps boolean,
    p_include_users boolean, p_quota bigint, p_now timestamptz
) returns jsonb language sql stable as $$
    with scoped as (
        select * from public.inngest_function_executions
         where started_at >= p_start and started_at < p_end
           and (p_function_id is null or function_id = p_function_id)
           and (p_user_id is null or user_id = p_user_id)
    ), billed as (
        select *, case when p_bill_all_steps then step_count + other_step_count
                       else step_count end as billed_steps
        from scoped
    ), totals as (
        select count(*) as executions,
               count(*) filter (where status = 'completed') as successful,
               count(*) filter (where status = 'failed') as failed,
               coalesce(sum(billed_steps), 0) as steps,
               coalesce(sum(duration_ms), 0) as duration_ms,
               avg(duration_ms) as avg_ms
        from billed
    ), month as (
        select coalesce(sum(case when p_bill_all_steps then step_count + other_step_count
                                 else step_count end), 0) as steps
        from public.inngest_function_executions
        where started_at >= date_trunc('month', p_now)
          and started_at < date_trunc('month', p_now) + interval '1 month'
          and (p_user_id is null or user_id = p_user_id)
    ), month_span as (
        select extract(epoch from p_now - date_trunc('month', p_now)) as elapsed,
               extract(epoch from (date_trunc('month', p_now) + interval '1 month')
                                   - date_trunc('month', p_now)) as length
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
                'functionId', function_id, 'functionName', function_name, 'count', n,
                'steps', steps, 'avgDuration', coalesce(round(avg_ms)::bigint, 0),
                'p50DurationMs', p50, 'p95DurationMs', p95) order by n desc, function_id)
            from (select function_id, max(function_name) as function_name, count(*) as n,
                         sum(billed_steps) as steps, avg(duration_ms) as avg_ms,
                         round(percentile_cont(0.5) within group (order by duration_ms))::bigint as p50,
                         round(percentile_cont(0.95) within group (order by duration_ms))::bigint as p95
                  from billed group by function_id) f), '[]'::jsonb),
        'byTriggerType', coalesce((
            select jsonb_agg(jsonb_build_object('triggerType', trigger_type, 'count', n)
                             order by n desc, trigger_type)
            from (select trigger_type, count(*) as n from billed group by trigger_type) g),
            '[]'::jsonb),
        'byDay', coalesce((
            select jsonb_agg(jsonb_build_object('date', day, 'executions', n, 'steps', steps,
                                                'avgDurationMs', coalesce(round(avg_ms)::bigint, 0))
                             order by day)
            from (select to_char(started_at at time zone 'UTC', 'YYYY-MM-DD') as day,
                         count(*) as n, sum(billed_steps) as steps, avg(duration_ms) as avg_ms
                  from billed group by 1) d), '[]'::jsonb),
        'byUser', case when p_include_users then coalesce((
            select jsonb_agg(jsonb_build_object('userId', user_id, 'count', n, 'steps', steps)
                             order by n desc, user_id)
            from (select user_id, count(*) as n, sum(billed_steps) as steps
                  from billed where user_id is not null group by user_id) u), '[]'::jsonb)
            end,
        'recentFailures', coalesce((
            select jsonb_agg(jsonb_build_object('functionId', function_id, 'runId', run_id,
                                                'errorMessage', error_message,
                                                'startedAt', started_at) order by started_at desc)
            from (select function_id, run_id, error_message, started_at from billed
                  where status = 'failed' order by started_at desc limit 20) r), '[]'::jsonb),
        'quota', jsonb_build_object(
            'monthlyStepQuota', p_quota,
            'stepsThisMonth', m.steps,
            'forecastStepsThisMonth', case when s.elapsed > 0
                then round(m.steps * s.length / s.elapsed)::bigint else m.steps end,
            'percentUsed', case when p_quota > 0 then round(m.steps * 100.0 / p_quota, 2) end,
            'forecastExceedsQuota', case when p_quota > 0 and s.elapsed > 0
                then m.steps * s.length / s.elapsed > p_quota end)
    )
    from totals t, month m, month_span s;
$$;

-- The last hour's usage against thresholds; records an alert once per kind and window.
create or replace function public.monitoring_check_alerts(
    p_window_end timestamptz, p_max_steps bigint, p_max_failures bigint, p_bill_all_steps boolean
) returns jsonb language sql as $$
    with usage as (
        select coalesce(sum(case when p_bill_all_steps then step_count + other_step_count
                                 else step_count end), 0) as steps,
               count(*) filter (where status = 'failed') as failures
        from public.inngest_function_executions
        where started_at >= p_window_end - interval '1 hour' and started_at < p_window_end
    ), crossed as (
        select 'steps' as kind, steps as observed, p_max_steps as threshold from usage
         where p_max_steps is not null and steps > p_max_steps
        union all
        select 'failures', failures, p_max_failures from usage
         where p_max_failures is not null and failures > p_max_failures
    ), inserted as (
        insert into public.monitoring_alerts (kind, observed, threshold, window_start, window_end)
        select kind, observed, threshold, date_trunc('hour', p_window_end - interval '1 hour'),
               p_window_end
        from crossed
        on conflict (kind, window_start) do nothing
        returning id, kind, observed, threshold, window_start, window_end
    )
    select jsonb_build_object(
        'steps', (select steps from usage), 'failures', (select failures from usage),
        'alerts', coalesce((select jsonb_agg(to_jsonb(i) order by i.id) from inserted i), '[]'::jsonb));
$$;

create or replace function public.monitoring_mark_notified(p_ids bigint[]) returns jsonb
language sql as $$
    with updated as (
        update public.monitoring_alerts set notified = true where id = any(p_ids) returning 1
    )
    select jsonb_build_object('notified', count(*)) from updated;
$$;

select public.app_lock_down_functions();
