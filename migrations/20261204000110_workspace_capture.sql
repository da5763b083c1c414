-- Workspaces follow captures; private repositories; caps; one aggregation at a time.
--
-- * A private repository counts in a workspace's metrics, and shows as captured in it, only
--   when an admin added it there (`added_by_admin`).
-- * Captures and membership changes mark a workspace's metrics stale from a day on
--   (`metrics_dirty_since`); `workspace_recompute` claims that mark and recomputes from it, in
--   one transaction (a failed recomputation leaves the mark).
-- * `workspace_create` and `workspace_add_repository` enforce the caps they are given.

create or replace function public.workspace_json(w public.workspaces) returns jsonb
language sql stable set search_path = public, pg_temp as $$
    select jsonb_build_object(
        'id', w.id, 'name', w.name, 'slug', w.slug, 'owner_id', w.owner_id,
        'data_retention_days', w.data_retention_days, 'created_at', w.created_at,
        'repositories', coalesce((
            select jsonb_agg(jsonb_build_object(
                       'owner', m.owner, 'name', m.name, 'is_priority', m.is_priority,
                       'added_at', m.added_at, 'added_by_admin', m.added_by_admin,
                       'repository_id', r.id,
                       'captured', r.id is not null and r.last_synced_at is not null,
                       'status', r.status, 'last_synced_at', r.last_synced_at)
                   order by lower(m.owner), lower(m.name))
              from public.workspace_repositories m
              left join public.repositories r
                on lower(r.owner) = lower(m.owner) and lower(r.name) = lower(m.name)
               -- a private repository not shared by an admin reads as not captured
               and (not r.is_private or m.added_by_admin)
             where m.workspace_id = w.id), '[]'::jsonb));
$$;

drop function public.workspace_create(text, text, text, integer);

-- A new workspace unless the owner has `p_max_per_owner` already (`limit_reached`) or one
-- with this slug (`created` false).
create or replace function public.workspace_create(
    p_owner_id text, p_name text, p_slug text, p_retention_days integer, p_max_per_owner integer
) returns jsonb language plpgsql set search_path = public, pg_temp as $$
declare
    w public.workspaces;
begin
    -- one owner's creations one at a time, so the cap holds under concurrency
    perform pg_advisory_xact_lock(hashtext('workspace-owner:' || p_owner_id));
    if (select count(*) from public.workspaces where owner_id = p_owner_id) >= p_max_per_owner
    then
        return jsonb_build_object('created', false, 'limit_reached', true);
    end if;
    insert into public.workspaces (owner_id, name, slug, data_retention_days)
    values (p_owner_id, p_name, p_slug, coalesce(p_retention_days, 90))
    on conflict (owner_id, slug) do nothing
    returning * into w;
    if not found then
        return jsonb_build_object('created', false, 'limit_reached', false);
    end if;
    return jsonb_build_object('created', true, 'workspace', public.workspace_json(w));
end;
$$;

-- The earliest day a repository's captured activity touches (its oldest pull request).
create or replace function public.workspace_repository_since(p_owner text, p_name text)
returns date language sql stable set search_path = public, pg_temp as $$
    select min((p.created_at at time zone 'UTC')::date)
      from public.repositories r
      join public.pull_requests p on p.repository_id = r.id
     where lower(r.owner) = lower(p_owner) and lower(r.name) = lower(p_name);
$$;

drop function public.workspace_add_repository(uuid, text, text, boolean);

-- Add (or re-mark) a member. `changed` is false when it was already a member as asked;
-- `limit_reached` when a new member would exceed `p_max_repositories`. An admin's addition
-- shares a private repository with the workspace (kept when a user re-marks the member).
create or replace function public.workspace_add_repository(
    p_workspace_id uuid, p_owner text, p_name text, p_is_priority boolean, p_by_admin boolean,
    p_max_repositories integer
) returns jsonb language plpgsql set search_path = public, pg_temp as $$
declare
    m public.workspace_repositories;
    was public.workspace_repositories;
    repo_id bigint;
    captured boolean;
begin
    perform 1 from public.workspaces where id = p_workspace_id for update;
    select * into was from public.workspace_repositories
     where workspace_id = p_workspace_id and lower(owner) = lower(p_owner)
       and lower(name) = lower(p_name);
    if found then
        update public.workspace_repositories
           set is_priority = p_is_priority, added_by_admin = added_by_admin or p_by_admin
         where workspace_id = was.workspace_id and owner = was.owner and name = was.name
        returning * into m;
    else
        if (select count(*) from public.workspace_repositories
             where workspace_id = p_workspace_id) >= p_max_repositories then
            return jsonb_build_object('limit_reached', true, 'added', false, 'changed', false);
        end if;
        insert into public.workspace_repositories (
            workspace_id, owner, name, is_priority, added_by_admin)
        values (p_workspace_id, p_owner, p_name, p_is_priority, p_by_admin)
        returning * into m;
    end if;
    perform public.workspace_refresh_priority(m.owner, m.name);
    if was.workspace_id is null or was.added_by_admin is distinct from m.added_by_admin then
        update public.workspaces
           set metrics_dirty_since = least(
                   coalesce(metrics_dirty_since, public.workspace_repository_since(m.owner, m.name)),
                   public.workspace_repository_since(m.owner, m.name))
         where id = p_workspace_id;
    end if;
    select r.id, r.last_synced_at is not null into repo_id, captured
      from public.repositories r
     where lower(r.owner) = lower(m.owner) and lower(r.name) = lower(m.name)
       and (not r.is_private or m.added_by_admin);
    return jsonb_build_object(
        'added', was.workspace_id is null,
        'changed', was.workspace_id is null or was.is_priority is distinct from p_is_priority
                   or was.added_by_admin is distinct from m.added_by_admin,
        'owner', m.owner, 'name', m.name, 'is_priority', m.is_priority,
        'repository_id', repo_id, 'captured', coalesce(captured, false),
        'limit_reached', false);
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
    -- every day the repository counted in is stale now
    update public.workspaces
       set metrics_dirty_since = least(
               coalesce(metrics_dirty_since, public.workspace_repository_since(m.owner, m.name)),
               public.workspace_repository_since(m.owner, m.name))
     where id = p_workspace_id;
    select r.id into repo_id from public.repositories r
     where lower(r.owner) = lower(m.owner) and lower(r.name) = lower(m.name);
    return jsonb_build_object('removed', true, 'owner', m.owner, 'name', m.name,
                              'repository_id', repo_id);
end;
$$;

-- Metrics count a private repository only where an admin added it (otherwise as before).
create or replace function public.workspace_compute_day(p_workspace_id uuid, p_date date)
returns jsonb language sql set search_path = public, pg_temp as $$
    with repos as (
        select r.id
          from public.workspace_repositories m
          join public.repositories r
            on lower(r.owner) = lower(m.owner) and lower(r.name) = lower(m.name)
         where m.workspace_id = p_workspace_id
           -- a private repository counts only where an admin added it
           and (not r.is_private or m.added_by_admin)
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

-- Recompute a workspace: the `p_days` days ending at `p_until`, extended back to the day its
-- metrics are stale from (claimed here, in the same transaction), but never past its retention
-- nor 366 days. Returns {days, from} (days 0 when there is no such workspace).
create or replace function public.workspace_recompute(
    p_workspace_id uuid, p_until date, p_days integer
) returns jsonb language plpgsql set search_path = public, pg_temp as $$
declare
    w public.workspaces;
    v_from date;
    v_days integer;
begin
    select * into w from public.workspaces where id = p_workspace_id for update;
    if not found then
        return jsonb_build_object('days', 0, 'from', null);
    end if;
    v_from := least(p_until - (greatest(p_days, 1) - 1), coalesce(w.metrics_dirty_since, p_until));
    v_from := greatest(v_from, p_until - (least(w.data_retention_days, 366) - 1));
    v_days := greatest(p_until - v_from + 1, 1);
    update public.workspaces set metrics_dirty_since = null where id = p_workspace_id;
    return jsonb_build_object(
        'days', public.workspace_compute_range(p_workspace_id, p_until, v_days),
        'from', p_until - (v_days - 1));
end;
$$;

-- A repository that turns private (or public) changes what every workspace a user (not an
-- admin) added it to may count: their metrics are stale from its first activity on (the nightly
-- aggregation, or the next recomputation, claims the mark).
create or replace function public.workspace_privacy_changed()
returns trigger language plpgsql set search_path = public, pg_temp as $$
declare
    v_since date := public.workspace_repository_since(new.owner, new.name);
begin
    if v_since is not null then
        update public.workspaces w
           set metrics_dirty_since = least(coalesce(w.metrics_dirty_since, v_since), v_since)
          from public.workspace_repositories m
         where m.workspace_id = w.id and not m.added_by_admin
           and lower(m.owner) = lower(new.owner) and lower(m.name) = lower(new.name);
    end if;
    return new;
end;
$$;
create trigger repositories_privacy_changed
    after update of is_private on public.repositories
    for each row when (old.is_private is distinct from new.is_private)
    execute function public.workspace_privacy_changed();

select public.app_lock_down_functions();
