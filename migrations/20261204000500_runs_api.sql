-- The runs API (issue 24): a keyset-paged list of recorded runs, one run's detail, and the
-- hourly buckets the dashboard draws for ranges of two days or less. Read-only; nothing
-- redefined.

-- Keyset paging walks (started_at, run_id) downwards: each filter has an index in that order,
-- so a page costs its own rows whatever its depth.
create index executions_keyset on public.inngest_function_executions (started_at, run_id);
create index executions_function_keyset
    on public.inngest_function_executions (function_id, started_at, run_id);
create index executions_user_keyset
    on public.inngest_function_executions (user_id, started_at, run_id) where user_id is not null;
-- each is a prefix of one above, which serves the stats as well: writes keep their index count
drop index public.executions_started;
drop index public.executions_function_started;
drop index public.executions_user_started;

-- One run as the runs list shows it (`steps`: step.run steps; `billedSteps`: what Inngest bills).
create or replace function public.monitoring_run_json(
    e public.inngest_function_executions, p_bill_all_steps boolean
) returns jsonb language sql immutable
set search_path = public, pg_temp as $$
    select jsonb_build_object(
        'runId', e.run_id, 'functionId', e.function_id, 'functionName', e.function_name,
        'status', e.status, 'attempts', e.attempts, 'durationMs', e.duration_ms,
        'steps', e.step_count,
        'billedSteps', e.step_count + case when p_bill_all_steps then e.other_step_count else 0 end,
        'userId', e.user_id, 'eventName', e.event_name, 'triggerType', e.trigger_type,
        'errorMessage', e.error_message, 'startedAt', e.started_at,
        'completedAt', e.completed_at);
$$;

-- Runs started in [p_start, p_end), newest first, after the cursor (p_after_started,
-- p_after_run) when given; at most p_limit of them. p_function_ids: the ids one function filter
-- matches (bare and app-prefixed), each walked on its own index and merged.
create or replace function public.monitoring_runs_list(
    p_start timestamptz, p_end timestamptz, p_function_ids text[], p_user_id text,
    p_status text, p_after_started timestamptz, p_after_run text, p_limit integer,
    p_bill_all_steps boolean
) returns jsonb language plpgsql stable
set search_path = public, pg_temp
set plan_cache_mode = force_custom_plan as $$
declare
    found jsonb;
    after_started timestamptz := coalesce(p_after_started, 'infinity'::timestamptz);
    after_run text := coalesce(p_after_run, '');
    page integer := least(greatest(coalesce(p_limit, 50), 1), 1000);
begin
    if p_function_ids is null then
        select coalesce(jsonb_agg(public.monitoring_run_json(e, p_bill_all_steps)
                                  order by e.started_at desc, e.run_id desc), '[]'::jsonb)
          into found
          from (select * from public.inngest_function_executions x
                 where x.started_at >= p_start and x.started_at < p_end
                   and (p_user_id is null or x.user_id = p_user_id)
                   and (p_status is null or x.status = p_status)
                   and (p_after_started is null
                        or (x.started_at, x.run_id) < (after_started, after_run))
                 order by x.started_at desc, x.run_id desc limit page) e;
    else
        select coalesce(jsonb_agg(public.monitoring_run_json(e, p_bill_all_steps)
                                  order by e.started_at desc, e.run_id desc), '[]'::jsonb)
          into found
          from (select r.* from (select distinct unnest(p_function_ids) as id) f
                 cross join lateral (
                    select * from public.inngest_function_executions x
                     where x.function_id = f.id
                       and x.started_at >= p_start and x.started_at < p_end
                       and (p_user_id is null or x.user_id = p_user_id)
                       and (p_status is null or x.status = p_status)
                       and (p_after_started is null
                            or (x.started_at, x.run_id) < (after_started, after_run))
                     order by x.started_at desc, x.run_id desc limit page) r
                 order by r.started_at desc, r.run_id desc limit page) e;
    end if;
    return found;
end;
$$;

-- One recorded run with everything the recorder kept, or null (unknown, or another user's).
create or replace function public.monitoring_run_detail(
    p_run_id text, p_user_id text, p_bill_all_steps boolean
) returns jsonb language sql stable
set search_path = public, pg_temp as $$
    select public.monitoring_run_json(e, p_bill_all_steps) || jsonb_build_object(
        'eventId', e.event_id, 'workflowId', e.workflow_id, 'executionId', e.execution_id,
        'otherSteps', e.other_step_count, 'errorStack', e.error_stack,
        'metadata', e.metadata, 'updatedAt', e.updated_at,
        'stepsReported', coalesce((
            select jsonb_agg(jsonb_build_object('position', s.position, 'stepId', s.step_id,
                                                'kind', s.kind) order by s.position, s.step_id)
              from (select case when split_part(key, ':', 1) ~ '^[0-9]{1,9}$'
                                then split_part(key, ':', 1)::integer end as position,
                           substr(key, strpos(key, ':') + 1) as step_id, value as kind
                      from jsonb_each_text(e.steps)) s), '[]'::jsonb))
      from public.inngest_function_executions e
     where e.run_id = p_run_id and (p_user_id is null or e.user_id = p_user_id);
$$;

-- Runs, failures and steps per UTC hour of [p_start, p_end) (hours with runs only), from the
-- raw rows: the dashboard asks for it only for ranges of two days or less.
create or replace function public.monitoring_stats_hourly(
    p_start timestamptz, p_end timestamptz, p_function_ids text[], p_user_id text,
    p_bill_all_steps boolean
) returns jsonb language sql stable
set search_path = public, pg_temp as $$
    select coalesce(jsonb_agg(jsonb_build_object(
               'hour', to_char(h.hour, 'YYYY-MM-DD"T"HH24:00:00"Z"'), 'executions', h.n,
               'failed', h.failed, 'steps', h.steps, 'billedSteps', h.billed) order by h.hour),
           '[]'::jsonb)
      from (select date_trunc('hour', started_at at time zone 'UTC') as hour, count(*) as n,
                   count(*) filter (where status = 'failed') as failed,
                   sum(step_count) as steps,
                   sum(step_count + case when p_bill_all_steps then other_step_count else 0 end)
                       as billed
              from public.inngest_function_executions
             where started_at >= p_start and started_at < p_end
               and p_end - p_start <= interval '2 days'
               and (p_function_ids is null or function_id = any(p_function_ids))
               and (p_user_id is null or user_id = p_user_id)
             group by 1) h;
$$;

select public.app_lock_down_functions();
