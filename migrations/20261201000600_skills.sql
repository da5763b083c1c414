-- Skills: AI skill runs, their stored outputs, feedback on them and per-skill health.
-- Invariants: one output row per run (`outputs.run_id` unique), so a retried step never records
-- a second; a run moves queued → running → completed|failed and never back; each stuck run and
-- each degraded period of a skill is alerted once (`skill_alerts` uniqueness, `alert_open`).

create table public.skills (
    name text primary key check (name ~ '^[a-z0-9][a-z0-9-]{0,63}$'),
    description text not null default '',
    model text not null,
    prompt_template text not null,
    active boolean not null default true,
    updated_at timestamptz not null default now()
);
alter table public.skills enable row level security;

create table public.clients (
    id uuid primary key default gen_random_uuid(),
    slug text not null check (slug ~ '^[a-z0-9][a-z0-9-]{0,63}$'),
    name text not null,
    owner_id text not null,
    created_at timestamptz not null default now(),
    unique (owner_id, slug)
);
alter table public.clients enable row level security;

create table public.runs (
    id uuid primary key default gen_random_uuid(),
    user_id text not null,
    skill_name text not null references public.skills (name),
    client_id uuid references public.clients (id),
    status text not null default 'queued'
        check (status in ('queued', 'running', 'completed', 'failed')),
    user_message text not null check (octet_length(user_message) <= 32768),
    options jsonb not null default '{}'::jsonb,
    tokens_in integer,
    tokens_out integer,
    error text,
    inngest_run_id text,
    resent_at timestamptz,            -- the stuck-run monitor sent skill.execute again
    created_at timestamptz not null default now(),
    started_at timestamptz,
    completed_at timestamptz,
    updated_at timestamptz not null default now()
);
create index runs_user_created on public.runs (user_id, created_at desc);
create index runs_unfinished on public.runs (status, created_at) where status in ('queued', 'running');
alter table public.runs enable row level security;

create table public.outputs (
    id uuid primary key default gen_random_uuid(),
    run_id uuid not null unique references public.runs (id),
    storage_key text not null unique,
    format text not null default 'markdown',
    title text not null,
    preview text not null check (char_length(preview) <= 500),
    size_bytes integer not null check (size_bytes >= 0),
    created_at timestamptz not null default now()
);
alter table public.outputs enable row level security;

create table public.feedback (
    id uuid primary key default gen_random_uuid(),
    output_id uuid not null references public.outputs (id),
    user_id text not null,
    skill_name text not null references public.skills (name),
    overall smallint not null check (overall between 1 and 5),
    accuracy smallint check (accuracy between 1 and 5),
    quality smallint check (quality between 1 and 5),
    issues jsonb not null default '[]'::jsonb,
    comment text check (char_length(comment) <= 4000),
    created_at timestamptz not null default now()
);
create index feedback_skill_created on public.feedback (skill_name, created_at desc, id desc);
alter table public.feedback enable row level security;

create table public.skill_metrics (
    skill_name text primary key references public.skills (name),
    feedback_count integer not null default 0,
    avg_last_10 numeric(4, 2),        -- null until the first feedback
    health text not null default 'unknown' check (health in ('unknown', 'healthy', 'degraded')),
    alert_open boolean not null default false,   -- a degraded period already alerted
    updated_at timestamptz not null default now()
);
alter table public.skill_metrics enable row level security;

create table public.user_channels (
    id uuid primary key default gen_random_uuid(),
    user_id text not null,
    channel text not null check (channel in ('telegram', 'webhook')),
    target text not null check (char_length(target) between 1 and 2048),  -- chat id or URL
    created_at timestamptz not null default now(),
    unique (user_id, channel, target)
);
alter table public.user_channels enable row level security;

create table public.skill_alerts (
    id bigint generated always as identity primary key,
    kind text not null check (kind in ('skill_degraded', 'run_stuck')),
    skill_name text not null,
    run_id uuid references public.runs (id),
    message text not null,
    claimed_by text,                  -- the Inngest run that posts it (one poster, retries ok)
    notified_at timestamptz,
    created_at timestamptz not null default now(),
    unique (kind, run_id)
);
alter table public.skill_alerts enable row level security;

-- JSON views -------------------------------------------------------------------------------

create or replace function public.skill_run_json(r public.runs) returns jsonb
language sql stable set search_path = public, pg_temp as $$
    select jsonb_build_object(
        'id', r.id, 'user_id', r.user_id, 'skill_name', r.skill_name, 'client_id', r.client_id,
        'status', r.status, 'user_message', r.user_message, 'options', r.options,
        'tokens_in', r.tokens_in, 'tokens_out', r.tokens_out, 'error', r.error,
        'inngest_run_id', r.inngest_run_id, 'created_at', r.created_at,
        'started_at', r.started_at, 'completed_at', r.completed_at,
        'output_id', (select o.id from public.outputs o where o.run_id = r.id));
$$;

create or replace function public.skill_output_json(o public.outputs) returns jsonb
language sql stable set search_path = public, pg_temp as $$
    select jsonb_build_object(
        'id', o.id, 'run_id', o.run_id, 'storage_key', o.storage_key, 'format', o.format,
        'title', o.title, 'preview', o.preview, 'size_bytes', o.size_bytes,
        'created_at', o.created_at,
        'user_id', (select r.user_id from public.runs r where r.id = o.run_id),
        'skill_name', (select r.skill_name from public.runs r where r.id = o.run_id));
$$;

-- Skills and clients -----------------------------------------------------------------------

-- The skill files are the source of truth: upsert each, deactivate those no longer shipped.
create or replace function public.skills_sync(p_skills jsonb) returns jsonb
language plpgsql set search_path = public, pg_temp as $$
declare
    upserted integer;
    deactivated integer;
begin
    with incoming as (
        select s ->> 'name' as name, coalesce(s ->> 'description', '') as description,
               s ->> 'model' as model, s ->> 'prompt_template' as prompt_template,
               coalesce((s ->> 'active')::boolean, true) as active
        from jsonb_array_elements(p_skills) s
    ), up as (
        insert into public.skills as k (name, description, model, prompt_template, active)
        select name, description, model, prompt_template, active from incoming
        on conflict (name) do update
           set description = excluded.description, model = excluded.model,
               prompt_template = excluded.prompt_template, active = excluded.active,
               updated_at = now()
         where (k.description, k.model, k.prompt_template, k.active) is distinct from
               (excluded.description, excluded.model, excluded.prompt_template, excluded.active)
        returning 1
    )
    select count(*) into upserted from up;
    with gone as (
        update public.skills set active = false, updated_at = now()
         where active and name not in (select s ->> 'name' from jsonb_array_elements(p_skills) s)
        returning 1
    )
    select count(*) into deactivated from gone;
    return jsonb_build_object('changed', upserted, 'deactivated', deactivated);
end;
$$;

create or replace function public.skill_client_upsert(p_owner_id text, p_slug text, p_name text)
returns jsonb language sql set search_path = public, pg_temp as $$
    insert into public.clients (owner_id, slug, name) values (p_owner_id, p_slug, p_name)
    on conflict (owner_id, slug) do update set name = excluded.name
    returning jsonb_build_object('id', id, 'slug', slug, 'name', name, 'owner_id', owner_id);
$$;

create or replace function public.skill_client_get(p_id uuid, p_owner_id text) returns jsonb
language sql stable set search_path = public, pg_temp as $$
    select jsonb_build_object('id', id, 'slug', slug, 'name', name, 'owner_id', owner_id)
      from public.clients where id = p_id and owner_id = p_owner_id;
$$;

create or replace function public.skill_channel_upsert(p_user_id text, p_channel text, p_target text)
returns jsonb language sql set search_path = public, pg_temp as $$
    insert into public.user_channels (user_id, channel, target) values (p_user_id, p_channel, p_target)
    on conflict (user_id, channel, target) do update set target = excluded.target
    returning jsonb_build_object('id', id, 'user_id', user_id, 'channel', channel, 'target', target);
$$;

-- Runs -------------------------------------------------------------------------------------

-- A queued run, unless the skill is unknown/inactive, the client is not the user's, or the user
-- created p_max_per_hour runs in the last hour (then retry_after_s says when one ages out).
create or replace function public.skill_run_create(
    p_user_id text, p_skill_name text, p_client_id uuid, p_message text, p_options jsonb,
    p_max_per_hour integer
) returns jsonb language plpgsql set search_path = public, pg_temp as $$
declare
    r public.runs;
    recent integer;
    oldest timestamptz;
begin
    if not exists (select 1 from public.skills where name = p_skill_name and active) then
        return jsonb_build_object('ok', false, 'code', 'unknown_skill');
    end if;
    if p_client_id is not null and not exists (
        select 1 from public.clients where id = p_client_id and owner_id = p_user_id
    ) then
        return jsonb_build_object('ok', false, 'code', 'unknown_client');
    end if;
    -- one creator at a time per user, so the window count cannot be raced past
    perform pg_advisory_xact_lock(hashtextextended('skill_runs:' || p_user_id, 0));
    select count(*), min(created_at) into recent, oldest
      from public.runs where user_id = p_user_id and created_at > now() - interval '1 hour';
    if recent >= p_max_per_hour then
        return jsonb_build_object(
            'ok', false, 'code', 'rate_limited',
            'retry_after_s', greatest(1, ceil(extract(epoch from
                (oldest + interval '1 hour' - now())))::integer));
    end if;
    insert into public.runs (user_id, skill_name, client_id, user_message, options)
    values (p_user_id, p_skill_name, p_client_id, p_message, coalesce(p_options, '{}'::jsonb))
    returning * into r;
    return jsonb_build_object('ok', true, 'run', public.skill_run_json(r));
end;
$$;

create or replace function public.skill_run_get(p_id uuid) returns jsonb
language sql stable set search_path = public, pg_temp as $$
    select public.skill_run_json(r) from public.runs r where r.id = p_id;
$$;

-- queued → running for this Inngest run; the same run asking again gets the row back as is.
-- 'started' is false when the run is finished or another Inngest run holds it; null: no such run.
create or replace function public.skill_run_start(p_id uuid, p_inngest_run_id text) returns jsonb
language plpgsql set search_path = public, pg_temp as $$
declare
    r public.runs;
begin
    update public.runs
       set status = 'running', inngest_run_id = p_inngest_run_id, error = null,
           started_at = now(), updated_at = now()
     where id = p_id and status = 'queued'
    returning * into r;
    if found then
        return jsonb_build_object('started', true, 'run', public.skill_run_json(r));
    end if;
    select * into r from public.runs where id = p_id;
    if not found then
        return null;
    end if;
    return jsonb_build_object(
        'started', r.status = 'running' and r.inngest_run_id = p_inngest_run_id,
        'run', public.skill_run_json(r));
end;
$$;

-- One output row per run: a retried step gets the first row back.
create or replace function public.skill_output_record(
    p_run_id uuid, p_storage_key text, p_format text, p_title text, p_preview text,
    p_size_bytes integer
) returns jsonb language plpgsql set search_path = public, pg_temp as $$
declare
    o public.outputs;
begin
    insert into public.outputs (run_id, storage_key, format, title, preview, size_bytes)
    values (p_run_id, p_storage_key, p_format, left(p_title, 200), left(p_preview, 500),
            p_size_bytes)
    on conflict (run_id) do nothing
    returning * into o;
    if not found then
        select * into o from public.outputs where run_id = p_run_id;
    end if;
    return public.skill_output_json(o);
end;
$$;

create or replace function public.skill_run_complete(
    p_id uuid, p_inngest_run_id text, p_tokens_in integer, p_tokens_out integer
) returns jsonb language plpgsql set search_path = public, pg_temp as $$
declare
    r public.runs;
begin
    update public.runs
       set status = 'completed', tokens_in = p_tokens_in, tokens_out = p_tokens_out,
           completed_at = coalesce(completed_at, now()), updated_at = now()
     where id = p_id and inngest_run_id = p_inngest_run_id and status in ('running', 'completed')
    returning * into r;
    if not found then
        return null;
    end if;
    return public.skill_run_json(r);
end;
$$;

-- Fails an unfinished run; a finished one is returned unchanged (the first error stays).
create or replace function public.skill_run_fail(p_id uuid, p_error text) returns jsonb
language plpgsql set search_path = public, pg_temp as $$
declare
    r public.runs;
begin
    update public.runs
       set status = 'failed', error = left(p_error, 2000), completed_at = now(),
           updated_at = now()
     where id = p_id and status in ('queued', 'running')
    returning * into r;
    if not found then
        select * into r from public.runs where id = p_id;
        if not found then
            return null;
        end if;
    end if;
    return public.skill_run_json(r);
end;
$$;

create or replace function public.skill_output_get(p_id uuid) returns jsonb
language sql stable set search_path = public, pg_temp as $$
    select public.skill_output_json(o) from public.outputs o where o.id = p_id;
$$;

-- What notify-completion needs: the run, its output and the user's channels (at most 20).
create or replace function public.skill_notify_context(p_run_id uuid) returns jsonb
language sql stable set search_path = public, pg_temp as $$
    select jsonb_build_object(
        'run', public.skill_run_json(r),
        'output', (select public.skill_output_json(o) from public.outputs o where o.run_id = r.id),
        'channels', coalesce((
            select jsonb_agg(jsonb_build_object('id', c.id, 'channel', c.channel,
                                                'target', c.target) order by c.created_at, c.id)
              from (select * from public.user_channels u where u.user_id = r.user_id
                     order by u.created_at, u.id limit 20) c), '[]'::jsonb))
      from public.runs r where r.id = p_run_id;
$$;

-- Feedback and skill health ----------------------------------------------------------------

create or replace function public.skill_feedback_create(
    p_output_id uuid, p_user_id text, p_overall integer, p_accuracy integer, p_quality integer,
    p_issues jsonb, p_comment text
) returns jsonb language sql set search_path = public, pg_temp as $$
    insert into public.feedback (output_id, user_id, skill_name, overall, accuracy, quality,
                                 issues, comment)
    select o.id, p_user_id, r.skill_name, p_overall, p_accuracy, p_quality,
           coalesce(p_issues, '[]'::jsonb), p_comment
      from public.outputs o join public.runs r on r.id = o.run_id
     where o.id = p_output_id
    returning jsonb_build_object('id', id, 'output_id', output_id, 'skill_name', skill_name,
                                 'overall', overall, 'accuracy', accuracy, 'quality', quality,
                                 'issues', issues, 'comment', comment, 'created_at', created_at);
$$;

-- Recompute a skill's metrics from its feedback (idempotent). Below p_threshold the skill is
-- degraded and one alert is recorded for the degraded period; it is returned, until notified,
-- to the one caller (p_claimant, an Inngest run id) that claimed it.
create or replace function public.skill_feedback_apply(
    p_feedback_id uuid, p_skill_name text, p_threshold numeric, p_claimant text
) returns jsonb language plpgsql set search_path = public, pg_temp as $$
declare
    skill text;
    total integer;
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
    select avg(overall) into average from (
        select overall from public.feedback where skill_name = skill
         order by created_at desc, id desc limit 10) last10;
    state := case when average is null then 'unknown'
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
            'skill %s is degraded: average overall score %s over the last %s feedback (below %s)',
            skill, round(average, 2), least(total, 10), p_threshold));
        update public.skill_metrics set alert_open = true where skill_name = skill
        returning * into m;
    end if;
    -- the un-notified alert goes to one poster only (and to that poster's retries)
    update public.skill_alerts set claimed_by = p_claimant
     where id = (select id from public.skill_alerts
                  where kind = 'skill_degraded' and skill_name = skill and notified_at is null
                    and (claimed_by is null or claimed_by = p_claimant)
                  order by id desc limit 1)
    returning * into a;
    return jsonb_build_object(
        'metrics', jsonb_build_object('skill_name', m.skill_name,
            'feedback_count', m.feedback_count, 'avg_last_10', m.avg_last_10,
            'health', m.health, 'updated_at', m.updated_at),
        'alert', case when a.id is null then null else to_jsonb(a) end);
end;
$$;

create or replace function public.skill_alerts_mark_notified(p_ids bigint[]) returns jsonb
language sql set search_path = public, pg_temp as $$
    with marked as (
        update public.skill_alerts set notified_at = now()
         where id = any(p_ids) and notified_at is null returning 1
    )
    select to_jsonb(count(*)) from marked;
$$;

create or replace function public.skill_metrics_get(p_skill_name text) returns jsonb
language sql stable set search_path = public, pg_temp as $$
    select to_jsonb(m) from public.skill_metrics m where m.skill_name = p_skill_name;
$$;

-- Stuck runs -------------------------------------------------------------------------------

-- One sweep: running past the finish timeout → failed ("timed out"); queued past the start
-- timeout → sent again once (returned in 'resend'), and failed if still queued a start timeout
-- after that. Each run failed here gets one run_stuck alert; un-notified ones are returned to
-- the one caller (p_claimant) that claims them.
create or replace function public.skill_runs_sweep(
    p_start_timeout_s integer, p_finish_timeout_s integer, p_limit integer, p_claimant text
) returns jsonb language plpgsql set search_path = public, pg_temp as $$
declare
    timed_out jsonb;
    never_started jsonb;
    resend jsonb;
    alerts jsonb;
begin
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
         where status = 'queued' and resent_at is not null
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
         where status = 'queued' and resent_at is null
           and created_at < now() - make_interval(secs => p_start_timeout_s)
         order by created_at limit p_limit for update skip locked
    ), marked as (
        update public.runs r set resent_at = now(), updated_at = now()
          from lost where r.id = lost.id
        returning public.skill_run_json(r) as j
    )
    select coalesce(jsonb_agg(j), '[]'::jsonb) into resend from marked;

    insert into public.skill_alerts (kind, skill_name, run_id, message)
    select 'run_stuck', f ->> 'skill_name', (f ->> 'id')::uuid,
           format('skill run %s (%s) failed: %s', f ->> 'id', f ->> 'skill_name', f ->> 'error')
      from jsonb_array_elements(timed_out || never_started) f
    on conflict (kind, run_id) do nothing;

    with claimed as (
        update public.skill_alerts set claimed_by = p_claimant
         where id in (select id from public.skill_alerts
                       where kind = 'run_stuck' and notified_at is null
                         and (claimed_by is null or claimed_by = p_claimant)
                       order by id limit p_limit)
           and (claimed_by is null or claimed_by = p_claimant)
        returning *
    )
    select coalesce(jsonb_agg(to_jsonb(c) order by c.id), '[]'::jsonb) into alerts from claimed c;

    return jsonb_build_object(
        'timed_out', timed_out, 'never_started', never_started, 'resend', resend,
        'alerts', alerts);
end;
$$;

select public.app_lock_down_functions();
