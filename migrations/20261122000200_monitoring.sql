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

-- Daily rollups for the stats API. Days before today (UTC) are summed here; today, partial days
-- at a window's edges, and single-user queries read the raw rows (indexed). A refresh redoes
-- only the past days whose rows changed since the last one, so stats stay exact.
create index executions_updated on public.inngest_function_executions (updated_at);

create table public.execution_daily (
    day date not null,
    function_id text not null,
    function_name text,
    trigger_type text not null,
    status text not null,
    runs bigint not null,
    step_runs bigint not null,
    other_steps bigint not null,
    duration_sum bigint not null,
    duration_n bigint not null,
    primary key (day, function_id, trigger_type, status)
);
alter table public.execution_daily enable row level security;

create table public.execution_daily_durations (
    day date not null,
    function_id text not null,
    hist bigint[] not null,  -- run counts per duration bucket (see monitoring_duration_bucket)
    primary key (day, function_id)
);
alter table public.execution_daily_durations enable row level security;

create table public.execution_daily_users (
    day date not null,
    user_id text not null,
    runs bigint not null,
    step_runs bigint not null,
    other_steps bigint not null,
    primary key (day, user_id)
);
alter table public.execution_daily_users enable row level security;

create table public.execution_rollup_state (
    id boolean primary key default true check (id),
    watermark timestamptz not null default '-infinity'
);
alter table public.execution_rollup_state enable row level security;
insert into public.execution_rollup_state default values;

-- Duration buckets: three per doubling from 1 ms (about 26% wide), the last one open-ended.
create or replace function public.monitoring_duration_bucket(p_ms bigint) returns integer
language sql immutable parallel safe as $$
    select least(59, greatest(0, ceil(3 * ln(greatest(coalesce(p_ms, 1), 1)::float8) / ln(2::float8))::integer));
$$;

create or replace function public.monitoring_bucket_upper_ms(p_bucket integer) returns bigint
language sql immutable as $$
    select round(power(2::numeric, p_bucket / 3.0))::bigint;
$$;

create or replace function public.monitoring_refresh_rollups() returns jsonb
language plpgsql as $$
declare
    since timestamptz;
    -- rows committed a little late carry an earlier updated_at: look back a minute each time
    upto timestamptz := clock_timestamp() - interval '1 minute';
    today_start timestamptz := date_trunc('day', now() at time zone 'UTC') at time zone 'UTC';
    days date[];
begin
    select watermark into since from public.execution_rollup_state for update;
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
                select day, function_id, public.monitoring_duration_bucket(duration_ms) as bucket,
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

-- Everything the stats API reports, aggregated here (never in Python).
create or replace function public.executions_stats(
    p_start timestamptz, p_end timestamptz, p_function_id text, p_user_id text,
    p_cost_per_step numeric, p_cost_per_run numeric, p_bill_all_steps boolean,
    p_include_users boolean, p_quota bigint, p_now timestamptz
) returns jsonb language plpgsql
-- a generic plan cannot prune the raw/rollup branches: plan each call for its own window
set plan_cache_mode = force_custom_plan as $$
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
        select function_id, public.monitoring_duration_bucket(duration_ms) as bucket,
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
