-- Every accepted skill run completes or says why; every alert is delivered once; no monitoring
-- row is left "started".
-- Invariants: a sweep or an alert claim retried by the same Inngest run (p_claimant) returns what
-- its first attempt claimed; a claim expires after p_lease_s (or is released after a failed
-- delivery), so a later run posts the alert; one feedback row per user and output.

-- Runs: how many times the stuck-run monitor re-sent skill.execute (part of the idempotency key).
alter table public.runs add column resends integer not null default 0;

-- A client may be deleted while runs still name it: the runs keep their history, not the link.
alter table public.runs drop constraint if exists runs_client_id_fkey;
alter table public.runs add constraint runs_client_id_fkey
    foreign key (client_id) references public.clients (id) on delete set null;

-- What one sweep (one Inngest run) did, returned again to its retries.
create table public.skill_sweeps (
    claimant text primary key,
    result jsonb not null,
    created_at timestamptz not null default now()
);
alter table public.skill_sweeps enable row level security;

-- Alert claims expire; a claim without an expiry (made before this migration) is free.
alter table public.skill_alerts add column claim_expires timestamptz;
alter table public.monitoring_alerts add column claimed_by text;
alter table public.monitoring_alerts add column claim_expires timestamptz;

-- One feedback per user and output: keep each pair's latest row, then enforce it.
delete from public.feedback f
 using public.feedback g
 where f.output_id = g.output_id and f.user_id = g.user_id
   and (f.created_at, f.id) < (g.created_at, g.id);
alter table public.feedback add column updated_at timestamptz not null default now();
alter table public.feedback add constraint feedback_one_per_user unique (output_id, user_id);
create index feedback_skill_user on public.feedback (skill_name, user_id, updated_at desc);

-- Runs ---------------------------------------------------------------------------------------

create or replace function public.skill_run_json(r public.runs) returns jsonb
language sql stable set search_path = public, pg_temp as $$
    select jsonb_build_object(
        'id', r.id, 'user_id', r.user_id, 'skill_name', r.skill_name, 'client_id', r.client_id,
        'status', r.status, 'user_message', r.user_message, 'options', r.options,
        'tokens_in', r.tokens_in, 'tokens_out', r.tokens_out, 'error', r.error,
        'inngest_run_id', r.inngest_run_id, 'created_at', r.created_at,
        'started_at', r.started_at, 'completed_at', r.completed_at, 'resends', r.resends,
        'output_id', (select o.id from public.outputs o where o.run_id = r.id));
$$;

-- Inngest cancelled one of the run's skill-execute runs (start or finish timeout, or by hand):
-- the run fails at once if nobody started it yet (error p_before), or if that Inngest run held
-- it (p_running). A run another Inngest run holds, or a finished one, comes back unchanged
-- ('changed' false); null: no such run.
create or replace function public.skill_run_cancelled(
    p_id uuid, p_inngest_run_id text, p_before text, p_running text
) returns jsonb language plpgsql set search_path = public, pg_temp as $$
declare
    r public.runs;
begin
    update public.runs
       set status = 'failed', completed_at = now(), updated_at = now(),
           error = left(case when status = 'queued' then p_before else p_running end, 2000)
     where id = p_id
       and (status = 'queued' or (status = 'running' and inngest_run_id = p_inngest_run_id))
    returning * into r;
    if found then
        return jsonb_build_object('changed', true, 'run', public.skill_run_json(r));
    end if;
    select * into r from public.runs where id = p_id;
    if not found then
        return null;
    end if;
    return jsonb_build_object('changed', false, 'run', public.skill_run_json(r));
end;
$$;

-- One sweep: running past the finish timeout → failed ("timed out"); queued past the start
-- timeout → sent again once (returned in 'resend' with its resend number), and failed if still
-- queued a start timeout after that. Failed runs get one run_stuck alert each. The result is
-- kept for p_claimant: a retry of the same step gets the same answer, even after a lost reply.
drop function if exists public.skill_runs_sweep(integer, integer, integer, text);
create function public.skill_runs_sweep(
    p_start_timeout_s integer, p_finish_timeout_s integer, p_limit integer, p_claimant text
) returns jsonb language plpgsql set search_path = public, pg_temp as $$
declare
    timed_out jsonb;
    never_started jsonb;
    resend jsonb;
    result jsonb;
begin
    perform pg_advisory_xact_lock(hashtextextended('skill_sweep:' || p_claimant, 0));
    select s.result into result from public.skill_sweeps s where s.claimant = p_claimant;
    if found then
        return result;
    end if;
    delete from public.skill_sweeps where created_at < now() - interval '1 day';

    with stuck as (
        select id from public.runs
         where status = 'running'
           and coalesce(started_at, created_at) < now() - make_interval(secs => p_finish_timeout_s)
         order by created_at limit p_limit for update skip locked
    ), failed as (
        update public.runs r
           set status = 'failed', completed_at = now(), updated_at = now(),
               error = format('timed out: still running after %s s', p_finish_timeout_s)
          from stuck where r.id = stuck.id
        returning public.skill_run_json(r) as j
    )
    select coalesce(jsonb_agg(j), '[]'::jsonb) into timed_out from failed;

    with stuck as (
        select id from public.runs
         where status = 'queued' and resends > 0
           and resent_at < now() - make_interval(secs => p_start_timeout_s)
         order by created_at limit p_limit for update skip locked
    ), failed as (
        update public.runs r
           set status = 'failed', completed_at = now(), updated_at = now(),
               error = format('timed out: not started within %s s, even after sending it again',
                              p_start_timeout_s)
          from stuck where r.id = stuck.id
        returning public.skill_run_json(r) as j
    )
    select coalesce(jsonb_agg(j), '[]'::jsonb) into never_started from failed;

    with lost as (
        select id from public.runs
         where status = 'queued' and resends = 0
           and created_at < now() - make_interval(secs => p_start_timeout_s)
         order by created_at limit p_limit for update skip locked
    ), marked as (
        update public.runs r set resent_at = now(), resends = r.resends + 1, updated_at = now()
          from lost where r.id = lost.id
        returning public.skill_run_json(r) as j
    )
    select coalesce(jsonb_agg(j), '[]'::jsonb) into resend from marked;

    insert into public.skill_alerts (kind, skill_name, run_id, message)
    select 'run_stuck', f ->> 'skill_name', (f ->> 'id')::uuid,
           format('skill run %s (%s) failed: %s', f ->> 'id', f ->> 'skill_name', f ->> 'error')
      from jsonb_array_elements(timed_out || never_started) f
    on conflict (kind, run_id) do nothing;

    result := jsonb_build_object(
        'timed_out', timed_out, 'never_started', never_started, 'resend', resend);
    insert into public.skill_sweeps (claimant, result) values (p_claimant, result);
    return result;
end;
$$;

-- Alerts -------------------------------------------------------------------------------------

-- Un-notified skill alerts (both kinds) for p_claimant to post: free ones, its own, and those
-- whose claim expired. Each is held for p_lease_s; the oldest first, at most p_limit.
create or replace function public.skill_alerts_claim(
    p_claimant text, p_lease_s integer, p_limit integer
) returns jsonb language sql set search_path = public, pg_temp as $$
    with free as (
        select id from public.skill_alerts
         where notified_at is null
           and (claimed_by is null or claimed_by = p_claimant
                or claim_expires is null or claim_expires < now())
         order by id limit p_limit for update skip locked
    ), claimed as (
        update public.skill_alerts a
           set claimed_by = p_claimant, claim_expires = now() + make_interval(secs => p_lease_s)
          from free where a.id = free.id
        returning a.*
    )
    select coalesce(jsonb_agg(to_jsonb(c) order by c.id), '[]'::jsonb) from claimed c;
$$;

-- After a failed delivery: p_claimant's un-notified claims on p_ids are free again.
create or replace function public.skill_alerts_release(p_claimant text, p_ids bigint[])
returns jsonb language sql set search_path = public, pg_temp as $$
    with freed as (
        update public.skill_alerts set claimed_by = null, claim_expires = null
         where id = any(p_ids) and claimed_by = p_claimant and notified_at is null
        returning 1
    )
    select to_jsonb(count(*)) from freed;
$$;

-- Feedback -----------------------------------------------------------------------------------

-- A user's feedback on an output: a new one replaces the old (same id, new scores and time).
create or replace function public.skill_feedback_create(
    p_output_id uuid, p_user_id text, p_overall integer, p_accuracy integer, p_quality integer,
    p_issues jsonb, p_comment text
) returns jsonb language sql set search_path = public, pg_temp as $$
    insert into public.feedback as f (output_id, user_id, skill_name, overall, accuracy, quality,
                                      issues, comment)
    select o.id, p_user_id, r.skill_name, p_overall, p_accuracy, p_quality,
           coalesce(p_issues, '[]'::jsonb), p_comment
      from public.outputs o join public.runs r on r.id = o.run_id
     where o.id = p_output_id
    on conflict (output_id, user_id) do update
       set overall = excluded.overall, accuracy = excluded.accuracy, quality = excluded.quality,
           issues = excluded.issues, comment = excluded.comment, updated_at = now()
    returning jsonb_build_object('id', id, 'output_id', output_id, 'skill_name', skill_name,
                                 'overall', overall, 'accuracy', accuracy, 'quality', quality,
                                 'issues', issues, 'comment', comment, 'created_at', created_at,
                                 'updated_at', updated_at);
$$;

-- Recompute a skill's health (idempotent) over distinct users: each user counts once, with
-- their latest score on the skill; the average is over the p_window users who scored it last,
-- and needs p_min_users of them (fewer: 'unknown'). Below p_threshold the skill is degraded and
-- one alert is recorded for the degraded period; it is returned, claimed for p_lease_s, to
-- p_claimant (and its retries) while un-notified and not claimed by another live run.
drop function if exists public.skill_feedback_apply(uuid, text, numeric, text);
create function public.skill_feedback_apply(
    p_feedback_id uuid, p_skill_name text, p_threshold numeric, p_claimant text,
    p_window integer, p_min_users integer, p_lease_s integer
) returns jsonb language plpgsql set search_path = public, pg_temp as $$
declare
    skill text;
    total integer;
    users integer;
    average numeric;
    state text;
    m public.skill_metrics;
    a public.skill_alerts;
begin
    select f.skill_name into skill from public.feedback f where f.id = p_feedback_id;
    if not found then
        return null;
    end if;
    if skill <> p_skill_name then
        return jsonb_build_object('error', 'skill_mismatch', 'skill_name', skill);
    end if;
    perform pg_advisory_xact_lock(hashtextextended('skill_metrics:' || skill, 0));
    select count(*) into total from public.feedback where skill_name = skill;
    with latest as (
        select distinct on (user_id) user_id, overall, updated_at, id
          from public.feedback where skill_name = skill
         order by user_id, updated_at desc, id desc
    ), recent as (
        select overall from latest order by updated_at desc, id desc limit p_window
    )
    select count(*), avg(overall) into users, average from recent;
    state := case when users < p_min_users then 'unknown'
                  when average < p_threshold then 'degraded' else 'healthy' end;
    insert into public.skill_metrics as sm (skill_name, feedback_count, avg_last_10, health,
                                            alert_open, updated_at)
    values (skill, total, round(average, 2), state, false, now())
    on conflict (skill_name) do update
       set feedback_count = excluded.feedback_count, avg_last_10 = excluded.avg_last_10,
           health = excluded.health, updated_at = now(),
           alert_open = sm.alert_open and excluded.health = 'degraded'
    returning * into m;
    if state = 'degraded' and not m.alert_open then
        insert into public.skill_alerts (kind, skill_name, message)
        values ('skill_degraded', skill, format(
            'skill %s is degraded: average overall score %s from the last %s users (below %s)',
            skill, round(average, 2), users, p_threshold));
        update public.skill_metrics set alert_open = true where skill_name = skill
        returning * into m;
    end if;
    update public.skill_alerts
       set claimed_by = p_claimant, claim_expires = now() + make_interval(secs => p_lease_s)
     where id = (select id from public.skill_alerts
                  where kind = 'skill_degraded' and skill_name = skill and notified_at is null
                    and (claimed_by is null or claimed_by = p_claimant
                         or claim_expires is null or claim_expires < now())
                  order by id desc limit 1 for update skip locked)
    returning * into a;
    return jsonb_build_object(
        'metrics', jsonb_build_object('skill_name', m.skill_name,
            'feedback_count', m.feedback_count, 'users', users, 'avg_last_10', m.avg_last_10,
            'health', m.health, 'updated_at', m.updated_at),
        'alert', case when a.id is null then null else to_jsonb(a) end);
end;
$$;

-- Clients and channels -------------------------------------------------------------------------

-- A client of p_owner_id (created, or renamed); at most p_max per owner ('limit' when full).
create or replace function public.skill_client_create(
    p_owner_id text, p_slug text, p_name text, p_max integer
) returns jsonb language plpgsql set search_path = public, pg_temp as $$
declare
    c public.clients;
begin
    perform pg_advisory_xact_lock(hashtextextended('skill_clients:' || p_owner_id, 0));
    if not exists (select 1 from public.clients where owner_id = p_owner_id and slug = p_slug)
       and (select count(*) from public.clients where owner_id = p_owner_id) >= p_max then
        return jsonb_build_object('error', 'limit');
    end if;
    insert into public.clients (owner_id, slug, name) values (p_owner_id, p_slug, p_name)
    on conflict (owner_id, slug) do update set name = excluded.name
    returning * into c;
    return jsonb_build_object('client', jsonb_build_object(
        'id', c.id, 'slug', c.slug, 'name', c.name, 'owner_id', c.owner_id,
        'created_at', c.created_at));
end;
$$;

create or replace function public.skill_client_list(p_owner_id text) returns jsonb
language sql stable set search_path = public, pg_temp as $$
    select coalesce(jsonb_agg(jsonb_build_object(
               'id', c.id, 'slug', c.slug, 'name', c.name, 'owner_id', c.owner_id,
               'created_at', c.created_at) order by c.created_at, c.id), '[]'::jsonb)
      from public.clients c where c.owner_id = p_owner_id;
$$;

create or replace function public.skill_client_delete(p_id uuid, p_owner_id text) returns jsonb
language sql set search_path = public, pg_temp as $$
    with gone as (
        delete from public.clients where id = p_id and owner_id = p_owner_id returning 1
    )
    select to_jsonb(count(*) > 0) from gone;
$$;

-- A channel of p_user_id (the same channel again is the same row); at most p_max per user.
create or replace function public.skill_channel_create(
    p_user_id text, p_channel text, p_target text, p_max integer
) returns jsonb language plpgsql set search_path = public, pg_temp as $$
declare
    c public.user_channels;
begin
    perform pg_advisory_xact_lock(hashtextextended('skill_channels:' || p_user_id, 0));
    select * into c from public.user_channels
     where user_id = p_user_id and channel = p_channel and target = p_target;
    if not found then
        if (select count(*) from public.user_channels where user_id = p_user_id) >= p_max then
            return jsonb_build_object('error', 'limit');
        end if;
        insert into public.user_channels (user_id, channel, target)
        values (p_user_id, p_channel, p_target) returning * into c;
    end if;
    return jsonb_build_object('channel', jsonb_build_object(
        'id', c.id, 'channel', c.channel, 'target', c.target, 'created_at', c.created_at));
end;
$$;

create or replace function public.skill_channel_list(p_user_id text) returns jsonb
language sql stable set search_path = public, pg_temp as $$
    select coalesce(jsonb_agg(jsonb_build_object(
               'id', c.id, 'channel', c.channel, 'target', c.target,
               'created_at', c.created_at) order by c.created_at, c.id), '[]'::jsonb)
      from public.user_channels c where c.user_id = p_user_id;
$$;

create or replace function public.skill_channel_delete(p_id uuid, p_user_id text) returns jsonb
language sql set search_path = public, pg_temp as $$
    with gone as (
        delete from public.user_channels where id = p_id and user_id = p_user_id returning 1
    )
    select to_jsonb(count(*) > 0) from gone;
$$;

-- Monitoring: hourly alerts and reconciliation --------------------------------------------------

-- Usage in the hour before p_window_end; a new alert row for each crossed threshold; then every
-- un-notified alert (this hour's or an earlier one whose delivery failed) claimed for
-- p_claimant for p_lease_s, so a retried step gets the same alerts and a later run the rest.
create or replace function public.monitoring_alerts_claim(
    p_window_end timestamptz, p_max_steps bigint, p_max_failures bigint,
    p_bill_all_steps boolean, p_claimant text, p_lease_s integer, p_limit integer
) returns jsonb language plpgsql as $$
declare
    steps bigint;
    failures bigint;
    alerts jsonb;
begin
    select coalesce(sum(case when p_bill_all_steps then step_count + other_step_count
                             else step_count end), 0),
           count(*) filter (where status = 'failed')
      into steps, failures
      from public.inngest_function_executions
     where started_at >= p_window_end - interval '1 hour' and started_at < p_window_end;
    insert into public.monitoring_alerts (kind, observed, threshold, window_start, window_end)
    select kind, observed, threshold, date_trunc('hour', p_window_end - interval '1 hour'),
           p_window_end
      from (select 'steps' as kind, steps as observed, p_max_steps as threshold
             where p_max_steps is not null and steps > p_max_steps
            union all
            select 'failures', failures, p_max_failures
             where p_max_failures is not null and failures > p_max_failures) crossed
    on conflict (kind, window_start) do nothing;
    with free as (
        select id from public.monitoring_alerts
         where not notified
           and (claimed_by is null or claimed_by = p_claimant
                or claim_expires is null or claim_expires < now())
         order by id limit p_limit for update skip locked
    ), claimed as (
        update public.monitoring_alerts a
           set claimed_by = p_claimant, claim_expires = now() + make_interval(secs => p_lease_s)
          from free where a.id = free.id
        returning a.id, a.kind, a.observed, a.threshold, a.window_start, a.window_end
    )
    select coalesce(jsonb_agg(to_jsonb(c) order by c.id), '[]'::jsonb) into alerts from claimed c;
    return jsonb_build_object('steps', steps, 'failures', failures, 'alerts', alerts);
end;
$$;

create or replace function public.monitoring_alerts_release(p_claimant text, p_ids bigint[])
returns jsonb language sql as $$
    with freed as (
        update public.monitoring_alerts set claimed_by = null, claim_expires = null
         where id = any(p_ids) and claimed_by = p_claimant and not notified
        returning 1
    )
    select jsonb_build_object('released', count(*)) from freed;
$$;

-- Rows still 'started' p_older_than_s after they started (their worker died before its recorder
-- flushed): the oldest first, at most p_limit, skipping those asked about lately (a run Inngest
-- still calls running, or does not know, waits until reconcile_after before it is asked again,
-- so such rows never crowd out the others).
alter table public.inngest_function_executions add column reconcile_after timestamptz;

create or replace function public.executions_stale(p_older_than_s integer, p_limit integer)
returns jsonb language sql stable as $$
    select coalesce(jsonb_agg(jsonb_build_object(
               'run_id', s.run_id, 'function_id', s.function_id, 'started_at', s.started_at)
               order by s.started_at), '[]'::jsonb)
      from (select run_id, function_id, started_at from public.inngest_function_executions
             where status = 'started'
               and started_at < now() - make_interval(secs => p_older_than_s)
               and (reconcile_after is null or reconcile_after < now())
             order by started_at limit p_limit) s;
$$;

create or replace function public.executions_reconcile_later(p_run_ids text[], p_delay_s integer)
returns jsonb language sql as $$
    with later as (
        update public.inngest_function_executions
           set reconcile_after = now() + make_interval(secs => p_delay_s)
         where run_id = any(p_run_ids) and status = 'started'
        returning 1
    )
    select jsonb_build_object('deferred', count(*)) from later;
$$;

select public.app_lock_down_functions();
