-- Workspaces: a user's group of repositories, and their daily contribution metrics.
--
-- Membership names a repository by owner/name (a repository may be added before it is captured;
-- discovery creates its `repositories` row later), and metrics join members to captured rows by
-- name, so a repository counts as soon as it is captured. `repositories.is_priority` mirrors
-- "some workspace marks it priority" and is kept by these functions (and by a trigger when a
-- member repository is captured later).
-- A day's metrics are computed by ONE statement (`workspace_compute_day`) and upserted on
-- (workspace, date), so recomputing a day changes nothing unless its inputs changed.

create table public.workspaces (
    id uuid primary key default gen_random_uuid(),
    name text not null check (length(name) between 1 and 200),
    slug text not null check (slug ~ '^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$'),
    owner_id text not null,
    data_retention_days integer not null default 90 check (data_retention_days between 1 and 3650),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (owner_id, slug)
);
alter table public.workspaces enable row level security;

create table public.workspace_repositories (
    workspace_id uuid not null references public.workspaces (id) on delete cascade,
    owner text not null,
    name text not null,
    is_priority boolean not null default false,
    added_at timestamptz not null default now(),
    primary key (workspace_id, owner, name)
);
create unique index workspace_repositories_name_idx
    on public.workspace_repositories (workspace_id, lower(owner), lower(name));
create index workspace_repositories_repo_idx
    on public.workspace_repositories (lower(owner), lower(name));
alter table public.workspace_repositories enable row level security;

create table public.workspace_metrics_daily (
    workspace_id uuid not null references public.workspaces (id) on delete cascade,
    date date not null,
    total_prs integer not null,
    prs_opened integer not null,
    prs_merged integer not null,
    prs_closed integer not null,
    open_at_end integer not null,
    active_contributors integer not null,
    reviews integer not null,
    comments integer not null,
    median_time_to_merge_hours double precision,
    pr_velocity double precision not null,
    top_contributors jsonb not null default '[]',
    trend_total_prs integer not null,
    computed_at timestamptz not null default now(),
    unique (workspace_id, date)
);
alter table public.workspace_metrics_daily enable row level security;

-- A day's reviews and comments of a workspace are found per pull request, and read from the
-- index alone (covering: no heap visit for each of a workspace's thousands of pull requests).
create index reviews_pull_request_submitted_idx
    on public.reviews (pull_request_id, submitted_at) include (author_id);
create index comments_pull_request_created_idx
    on public.comments (pull_request_id, created_at) include (author_id);

create or replace function public.workspace_trend(p_current numeric, p_previous numeric)
returns integer language sql immutable set search_path = public, pg_temp as $$
    -- The seed's rule: percent change, rounded; 100 when there was nothing before.
    select case when coalesce(p_previous, 0) = 0 then 100
                else round((coalesce(p_current, 0) - p_previous) / p_previous * 100)::integer end;
$$;

create or replace function public.workspace_json(w public.workspaces) returns jsonb
language sql stable set search_path = public, pg_temp as $$
    select jsonb_build_object(
        'id', w.id, 'name', w.name, 'slug', w.slug, 'owner_id', w.owner_id,
        'data_retention_days', w.data_retention_days, 'created_at', w.created_at,
        'repositories', coalesce((
            select jsonb_agg(jsonb_build_object(
                       'owner', m.owner, 'name', m.name, 'is_priority', m.is_priority,
                       'added_at', m.added_at, 'repository_id', r.id,
                       'captured', r.id is not null and r.last_synced_at is not null,
                       'status', r.status, 'last_synced_at', r.last_synced_at)
                   order by lower(m.owner), lower(m.name))
              from public.workspace_repositories m
              left join public.repositories r
                on lower(r.owner) = lower(m.owner) and lower(r.name) = lower(m.name)
             where m.workspace_id = w.id), '[]'::jsonb));
$$;

create or replace function public.workspace_create(
    p_owner_id text, p_name text, p_slug text, p_retention_days integer
) returns jsonb language plpgsql set search_path = public, pg_temp as $$
declare
    w public.workspaces;
begin
    insert into public.workspaces (owner_id, name, slug, data_retention_days)
    values (p_owner_id, p_name, p_slug, coalesce(p_retention_days, 90))
    on conflict (owner_id, slug) do nothing
    returning * into w;
    if not found then
        return jsonb_build_object('created', false);
    end if;
    return jsonb_build_object('created', true, 'workspace', public.workspace_json(w));
end;
$$;

create or replace function public.workspace_get(p_id uuid) returns jsonb
language sql stable set search_path = public, pg_temp as $$
    select public.workspace_json(w) from public.workspaces w where w.id = p_id;
$$;

create or replace function public.workspace_refresh_priority(p_owner text, p_name text)
returns void language sql set search_path = public, pg_temp as $$
    update public.repositories r
       set is_priority = exists (
               select 1 from public.workspace_repositories m
                where lower(m.owner) = lower(r.owner) and lower(m.name) = lower(r.name)
                  and m.is_priority),
           updated_at = now()
     where lower(r.owner) = lower(p_owner) and lower(r.name) = lower(p_name);
$$;

-- Add (or re-mark) a member. `changed` is false when it was already a member as asked.
create or replace function public.workspace_add_repository(
    p_workspace_id uuid, p_owner text, p_name text, p_is_priority boolean
) returns jsonb language plpgsql set search_path = public, pg_temp as $$
declare
    m public.workspace_repositories;
    was public.workspace_repositories;
    repo_id bigint;
    captured boolean;
begin
    select * into was from public.workspace_repositories
     where workspace_id = p_workspace_id and lower(owner) = lower(p_owner)
       and lower(name) = lower(p_name);
    if found then
        update public.workspace_repositories set is_priority = p_is_priority
         where workspace_id = was.workspace_id and owner = was.owner and name = was.name
        returning * into m;
    else
        insert into public.workspace_repositories (workspace_id, owner, name, is_priority)
        values (p_workspace_id, p_owner, p_name, p_is_priority)
        returning * into m;
    end if;
    perform public.workspace_refresh_priority(m.owner, m.name);
    select r.id, r.last_synced_at is not null into repo_id, captured
      from public.repositories r
     where lower(r.owner) = lower(m.owner) and lower(r.name) = lower(m.name);
    return jsonb_build_object(
        'added', was.workspace_id is null,
        'changed', was.workspace_id is null or was.is_priority is distinct from p_is_priority,
        'owner', m.owner, 'name', m.name, 'is_priority', m.is_priority,
        'repository_id', repo_id, 'captured', coalesce(captured, false));
end;
$$;

create or replace function public.workspace_remove_repository(
    p_workspace_id uuid, p_owner text, p_name text
) returns jsonb language plpgsql set search_path = public, pg_temp as $$
declare
    m public.workspace_repositories;
    repo_id bigint;
begin
    delete from public.workspace_repositories
     where workspace_id = p_workspace_id and lower(owner) = lower(p_owner)
       and lower(name) = lower(p_name)
    returning * into m;
    if not found then
        return jsonb_build_object('removed', false);
    end if;
    perform public.workspace_refresh_priority(m.owner, m.name);
    select r.id into repo_id from public.repositories r
     where lower(r.owner) = lower(m.owner) and lower(r.name) = lower(m.name);
    return jsonb_build_object('removed', true, 'owner', m.owner, 'name', m.name,
                              'repository_id', repo_id);
end;
$$;

-- What the repository-change handler needs: is the repository (by id, else by name) captured?
create or replace function public.workspace_repository_state(
    p_id bigint, p_owner text, p_name text
) returns jsonb language sql stable set search_path = public, pg_temp as $$
    select coalesce(
        (select jsonb_build_object('known', true, 'captured', r.last_synced_at is not null,
                                   'repository_id', r.id, 'owner', r.owner, 'name', r.name)
           from public.repositories r
          where (p_id is not null and r.id = p_id)
             or (p_id is null and lower(r.owner) = lower(p_owner)
                 and lower(r.name) = lower(p_name))),
        jsonb_build_object('known', false, 'captured', false, 'owner', p_owner, 'name', p_name));
$$;

create or replace function public.workspace_member_priority_on_capture()
returns trigger language plpgsql set search_path = public, pg_temp as $$
begin
    if exists (select 1 from public.workspace_repositories m
                where lower(m.owner) = lower(new.owner) and lower(m.name) = lower(new.name)
                  and m.is_priority) then
        new.is_priority := true;
    end if;
    return new;
end;
$$;
create trigger repositories_priority_from_workspaces
    before insert on public.repositories
    for each row execute function public.workspace_member_priority_on_capture();

-- One workspace's metrics for one UTC day, in ONE statement, upserted. The previous day's
-- activity (for the trend) is computed in the same statement from the same inputs. Day bounds are
-- written out as expressions of `p_date` (not read from a CTE) so each table is reached by an
-- index range scan: the workspace's pull requests that were open at some time in [D-1, D+1),
-- and the day's reviews and comments by their own time index.
create or replace function public.workspace_compute_day(p_workspace_id uuid, p_date date)
returns jsonb language sql set search_path = public, pg_temp as $$
    with repos as (
        select r.id
          from public.workspace_repositories m
          join public.repositories r
            on lower(r.owner) = lower(m.owner) and lower(r.name) = lower(m.name)
         where m.workspace_id = p_workspace_id
    ),
    prs as (
        select p.author_id, p.created_at, p.merged_at,
               p.created_at >= (p_date::timestamp at time zone 'UTC') as opened_today,
               coalesce(p.merged_at >= (p_date::timestamp at time zone 'UTC')
                   and p.merged_at < ((p_date + 1)::timestamp at time zone 'UTC'), false)
                   as merged_today,
               coalesce((not p.merged) and p.closed_at >= (p_date::timestamp at time zone 'UTC')
                   and p.closed_at < ((p_date + 1)::timestamp at time zone 'UTC'), false)
                   as closed_today,
               (p.closed_at is null
                   or p.closed_at >= ((p_date + 1)::timestamp at time zone 'UTC')) as open_at_end,
               (p.created_at >= ((p_date - 1)::timestamp at time zone 'UTC')
                   and p.created_at < (p_date::timestamp at time zone 'UTC'))
               or coalesce(p.merged_at >= ((p_date - 1)::timestamp at time zone 'UTC')
                   and p.merged_at < (p_date::timestamp at time zone 'UTC'), false)
               or coalesce((not p.merged)
                   and p.closed_at >= ((p_date - 1)::timestamp at time zone 'UTC')
                   and p.closed_at < (p_date::timestamp at time zone 'UTC'), false)
                   as active_yesterday
          from public.pull_requests p
         where p.repository_id in (select id from repos)
           and p.created_at < ((p_date + 1)::timestamp at time zone 'UTC')
           -- a PR closed before D-1 can take no part in D's or D-1's figures
           and (p.closed_at is null
                or p.closed_at >= ((p_date - 1)::timestamp at time zone 'UTC'))
    ),
    day_reviews as (
        select v.author_id
          from public.reviews v
          join public.pull_requests p on p.github_id = v.pull_request_id
         where v.submitted_at >= (p_date::timestamp at time zone 'UTC')
           and v.submitted_at < ((p_date + 1)::timestamp at time zone 'UTC')
           and p.repository_id in (select id from repos)
    ),
    day_comments as (
        select c.author_id
          from public.comments c
          join public.pull_requests p on p.github_id = c.pull_request_id
         where c.created_at >= (p_date::timestamp at time zone 'UTC')
           and c.created_at < ((p_date + 1)::timestamp at time zone 'UTC')
           and p.repository_id in (select id from repos)
    ),
    activity as (
        select author_id, 1 as prs, 0 as reviews, 0 as comments
          from prs where opened_today and author_id is not null
        union all select author_id, 0, 1, 0 from day_reviews where author_id is not null
        union all select author_id, 0, 0, 1 from day_comments where author_id is not null
    ),
    people as (
        select a.author_id, ct.login, sum(a.prs)::int as prs, sum(a.reviews)::int as reviews,
               sum(a.comments)::int as comments, count(*)::int as total
          from activity a
          left join public.contributors ct on ct.github_id = a.author_id
         group by a.author_id, ct.login
    ),
    figures as (
        select
            count(*) filter (where opened_today or merged_today or closed_today)::int as total_prs,
            count(*) filter (where opened_today)::int as opened,
            count(*) filter (where merged_today)::int as merged,
            count(*) filter (where closed_today)::int as closed,
            count(*) filter (where open_at_end)::int as open_at_end,
            count(*) filter (where active_yesterday)::int as total_prs_yesterday,
            percentile_cont(0.5) within group (
                order by extract(epoch from merged_at - created_at) / 3600.0)
                filter (where merged_today) as median_hours
          from prs
    ),
    upserted as (
        insert into public.workspace_metrics_daily as d (
            workspace_id, date, total_prs, prs_opened, prs_merged, prs_closed, open_at_end,
            active_contributors, reviews, comments, median_time_to_merge_hours, pr_velocity,
            top_contributors, trend_total_prs, computed_at)
        select p_workspace_id, p_date, f.total_prs, f.opened, f.merged, f.closed, f.open_at_end,
               (select count(*) from people)::int,
               (select count(*) from day_reviews)::int,
               (select count(*) from day_comments)::int,
               f.median_hours,
               -- velocity = PRs merged / max(1, days); a daily row spans one day
               f.merged::double precision,
               coalesce((select jsonb_agg(jsonb_build_object(
                                   'author_id', t.author_id, 'login', t.login, 'prs', t.prs,
                                   'reviews', t.reviews, 'comments', t.comments,
                                   'total', t.total) order by t.total desc, t.login, t.author_id)
                           from (select * from people
                                  order by total desc, login, author_id limit 10) t),
                        '[]'::jsonb),
               public.workspace_trend(f.total_prs, f.total_prs_yesterday),
               now()
          from figures f
         where exists (select 1 from public.workspaces w where w.id = p_workspace_id)
        on conflict (workspace_id, date) do update set
            total_prs = excluded.total_prs, prs_opened = excluded.prs_opened,
            prs_merged = excluded.prs_merged, prs_closed = excluded.prs_closed,
            open_at_end = excluded.open_at_end,
            active_contributors = excluded.active_contributors, reviews = excluded.reviews,
            comments = excluded.comments,
            median_time_to_merge_hours = excluded.median_time_to_merge_hours,
            pr_velocity = excluded.pr_velocity, top_contributors = excluded.top_contributors,
            trend_total_prs = excluded.trend_total_prs, computed_at = excluded.computed_at
        returning d.*
    )
    select to_jsonb(upserted) from upserted;
$$;

-- Recompute the last `p_days` days ending at `p_until` (one statement per day, one call).
create or replace function public.workspace_compute_range(
    p_workspace_id uuid, p_until date, p_days integer
) returns integer language plpgsql set search_path = public, pg_temp as $$
declare
    day date;
    computed integer := 0;
begin
    if p_days < 1 or p_days > 366 then
        raise exception 'days must be between 1 and 366, not %', p_days
            using errcode = '22023';
    end if;
    for day in select generate_series(p_until - (p_days - 1), p_until, interval '1 day')::date
    loop
        if public.workspace_compute_day(p_workspace_id, day) is not null then
            computed := computed + 1;
        end if;
    end loop;
    return computed;
end;
$$;

-- Workspace ids in id order after `p_after`, at most `p_limit`: the nightly fan-out's pages.
create or replace function public.workspace_ids_page(p_after uuid, p_limit integer)
returns jsonb language sql stable set search_path = public, pg_temp as $$
    select coalesce(jsonb_agg(id order by id), '[]'::jsonb)
      from (select id from public.workspaces
             where p_after is null or id > p_after
             order by id limit least(greatest(p_limit, 1), 1000)) w;
$$;

-- The daily series of one workspace for the `p_days` days ending at `p_until`.
create or replace function public.workspace_metrics_series(
    p_workspace_id uuid, p_until date, p_days integer
) returns jsonb language sql stable set search_path = public, pg_temp as $$
    select coalesce(jsonb_agg(to_jsonb(d) order by d.date), '[]'::jsonb)
      from public.workspace_metrics_daily d
     where d.workspace_id = p_workspace_id
       and d.date > p_until - p_days and d.date <= p_until;
$$;

-- Delete at most `p_limit` daily rows older than each workspace's retention (the rows kept are
-- the last `data_retention_days` days, today included). Returns the number deleted.
create or replace function public.workspace_cleanup_batch(p_today date, p_limit integer)
returns integer language sql set search_path = public, pg_temp as $$
    with doomed as (
        select d.ctid
          from public.workspace_metrics_daily d
          join public.workspaces w on w.id = d.workspace_id
         where d.date <= p_today - w.data_retention_days
         limit least(greatest(p_limit, 1), 10000)
    ), gone as (
        delete from public.workspace_metrics_daily d using doomed
         where d.ctid = doomed.ctid
        returning 1
    )
    select count(*)::int from gone;
$$;
