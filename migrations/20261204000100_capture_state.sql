-- GitHub capture state per repository and per kind of sync, private repositories, missing
-- repositories re-checked with back-off, and newer-wins guards on reviews and comments.
--
-- A kind of sync ('pull_requests': the plain PR list; 'activity': PRs with their reviews and
-- comments) reads pull requests newest-updated first. A pass starts at the newest and ends when
-- it reaches one updated BEFORE the kind's watermark (the watermark's own second is read again:
-- `updatedAt` has one-second resolution), or the end of the list. A run that stops at its page
-- budget records the pass's cursor; the next run (a continuation) resumes there. Only a
-- completed pass moves the watermark, to the newest `updatedAt` the pass saw at its start.

create table public.github_sync_state (
    repository_id bigint not null references public.repositories (id) on delete cascade,
    kind text not null check (kind in ('pull_requests', 'activity')),
    -- every pull request updated at or before it was read by a completed pass
    watermark timestamptz,
    -- the pass in progress: the newest `updatedAt` it saw (its watermark once complete) and
    -- the cursor of the page after the last one it read; null when no pass is in progress
    pass_high timestamptz,
    pass_cursor text,
    pass_pages integer not null default 0,
    last_run_at timestamptz,
    completed_at timestamptz,
    primary key (repository_id, kind)
);
alter table public.github_sync_state enable row level security;

alter table public.repositories
    add column missing_checks integer not null default 0,
    add column recheck_at timestamptz,
    add column last_error text,
    add column last_error_at timestamptz;
create index repositories_recheck_idx on public.repositories (recheck_at)
    where status = 'missing';

-- A repository seen again (any upsert that makes it active) forgets its missing history.
create or replace function public.github_reset_missing()
returns trigger language plpgsql set search_path = public, pg_temp as $$
begin
    if new.status = 'active' and old.status = 'missing' then
        new.missing_checks := 0;
        new.recheck_at := null;
    end if;
    return new;
end;
$$;
create trigger repositories_reset_missing
    before update on public.repositories
    for each row execute function public.github_reset_missing();

-- Private repositories are shared through workspaces only when an admin added them.
alter table public.workspace_repositories
    add column added_by_admin boolean not null default false;
-- Days whose metrics a capture or a membership change made stale (recomputed, then cleared).
alter table public.workspaces add column metrics_dirty_since date;

-- ---------------------------------------------------------------------------------------------
-- Sync state

create or replace function public.github_sync_states(p_repository_id bigint)
returns jsonb language sql stable set search_path = public, pg_temp as $$
    select coalesce(jsonb_agg(to_jsonb(s) - 'repository_id' order by s.kind), '[]'::jsonb)
      from public.github_sync_state s where s.repository_id = p_repository_id;
$$;

create or replace function public.github_repository_json(p_id bigint)
returns jsonb language sql stable set search_path = public, pg_temp as $$
    select to_jsonb(r) || jsonb_build_object('sync_state', public.github_sync_states(r.id))
      from public.repositories r where r.id = p_id;
$$;

create or replace function public.github_find_repository(p_owner text, p_name text)
returns jsonb language sql stable set search_path = public, pg_temp as $$
    select public.github_repository_json(r.id) from public.repositories r
    where lower(r.owner) = lower(p_owner) and lower(r.name) = lower(p_name);
$$;

create or replace function public.github_list_repositories(p_include_missing boolean)
returns jsonb language sql stable set search_path = public, pg_temp as $$
    select coalesce(jsonb_agg(public.github_repository_json(r.id)
                              order by r.is_priority desc, r.last_synced_at asc nulls first, r.id),
                    '[]'::jsonb)
    from public.repositories r
    where p_include_missing or r.status = 'active';
$$;

create or replace function public.github_repository_status(p_owner text, p_name text)
returns jsonb language sql stable set search_path = public, pg_temp as $$
    select public.github_repository_json(r.id) || jsonb_build_object(
        'counts', jsonb_build_object(
            'pull_requests', (select count(*) from public.pull_requests p
                              where p.repository_id = r.id),
            'open_pull_requests', (select count(*) from public.pull_requests p
                                   where p.repository_id = r.id and p.state = 'open'),
            'reviews', (select count(*) from public.reviews v
                        join public.pull_requests p on p.github_id = v.pull_request_id
                        where p.repository_id = r.id),
            'comments', (select count(*) from public.comments c
                         join public.pull_requests p on p.github_id = c.pull_request_id
                         where p.repository_id = r.id),
            'discussions', (select count(*) from public.discussions d
                            where d.repository_id = r.id),
            'contributors', (select count(distinct p.author_id) from public.pull_requests p
                             where p.repository_id = r.id)))
    from public.repositories r
    where lower(r.owner) = lower(p_owner) and lower(r.name) = lower(p_name);
$$;

-- One page of a pass read: remember the pass's newest time and where it stopped, or, when
-- `p_complete`, move the watermark to the pass's newest time and end the pass. A completed
-- 'activity' pass read every pull request too: the 'pull_requests' kind catches up with it
-- when it has no pass of its own in progress.
create or replace function public.github_sync_advance(
    p_repository_id bigint, p_kind text, p_high timestamptz, p_cursor text, p_complete boolean
) returns jsonb language plpgsql set search_path = public, pg_temp as $$
declare
    s public.github_sync_state;
begin
    insert into public.github_sync_state (repository_id, kind)
    values (p_repository_id, p_kind)
    on conflict (repository_id, kind) do nothing;
    if p_complete then
        update public.github_sync_state
           set watermark = greatest(watermark, coalesce(pass_high, p_high)),
               pass_high = null, pass_cursor = null, pass_pages = 0, completed_at = now()
         where repository_id = p_repository_id and kind = p_kind
        returning * into s;
        if p_kind = 'activity' then
            insert into public.github_sync_state as t (repository_id, kind, watermark,
                                                        completed_at)
            values (p_repository_id, 'pull_requests', s.watermark, now())
            on conflict (repository_id, kind) do update
               set watermark = greatest(t.watermark, excluded.watermark),
                   completed_at = coalesce(t.completed_at, excluded.completed_at)
             where t.pass_cursor is null;
        end if;
    else
        update public.github_sync_state
           set pass_high = coalesce(pass_high, p_high), pass_cursor = p_cursor,
               pass_pages = pass_pages + 1
         where repository_id = p_repository_id and kind = p_kind
        returning * into s;
    end if;
    update public.repositories r
       set sync_watermark = (select t.watermark from public.github_sync_state t
                              where t.repository_id = r.id and t.kind = 'pull_requests')
     where r.id = p_repository_id;
    return to_jsonb(s) - 'repository_id';
end;
$$;

-- Active repositories after id `p_after`, in id order: the slices of a fan-out.
create or replace function public.github_repositories_page(
    p_after bigint, p_limit integer, p_discussions_only boolean
) returns jsonb language sql stable set search_path = public, pg_temp as $$
    select coalesce(jsonb_agg(jsonb_build_object('id', r.id, 'owner', r.owner, 'name', r.name)
                              order by r.id), '[]'::jsonb)
      from (select id, owner, name from public.repositories
             where status = 'active' and id > coalesce(p_after, 0)
               and (not p_discussions_only or has_discussions)
             order by id limit least(greatest(p_limit, 1), 1000)) r;
$$;

-- A sync run ended (whatever it read): the skip windows count from here.
create or replace function public.github_finish_run(
    p_repository_id bigint, p_kind text, p_reason text
) returns jsonb language plpgsql set search_path = public, pg_temp as $$
begin
    insert into public.github_sync_state as t (repository_id, kind, last_run_at)
    values (p_repository_id, p_kind, now())
    on conflict (repository_id, kind) do update set last_run_at = now();
    update public.repositories
       set last_synced_at = now(), last_sync_reason = p_reason, last_error = null,
           last_error_at = null, updated_at = now()
     where id = p_repository_id;
    return public.github_repository_json(p_repository_id);
end;
$$;

-- ---------------------------------------------------------------------------------------------
-- Failures and missing repositories

-- Drop the two-argument form: the back-off needs the time of the observation.
drop function public.github_mark_missing(text, text);

-- GitHub answered NOT_FOUND: missing, to be checked again after 1 h, 2 h, 4 h ... at most 7 days.
create or replace function public.github_mark_missing(p_owner text, p_name text, p_at timestamptz)
returns jsonb language sql set search_path = public, pg_temp as $$
    update public.repositories
       set status = 'missing',
           recheck_at = p_at + least(interval '1 hour' * power(2, least(missing_checks, 10)),
                                     interval '7 days'),
           missing_checks = missing_checks + 1,
           updated_at = now()
     where lower(owner) = lower(p_owner) and lower(name) = lower(p_name)
    returning to_jsonb(repositories.*);
$$;

-- Missing repositories due for a re-check at `p_at`, oldest due first.
create or replace function public.github_recheck_due(p_at timestamptz, p_limit integer)
returns jsonb language sql stable set search_path = public, pg_temp as $$
    select coalesce(jsonb_agg(to_jsonb(r) order by r.recheck_at, r.id), '[]'::jsonb)
      from (select * from public.repositories
             where status = 'missing' and recheck_at <= p_at
             order by recheck_at, id limit least(greatest(p_limit, 1), 1000)) r;
$$;

-- One repository's failure in a fan-out, recorded on it (the others go on).
create or replace function public.github_record_error(p_repository_id bigint, p_error text)
returns void language sql set search_path = public, pg_temp as $$
    update public.repositories
       set last_error = left(p_error, 500), last_error_at = now(), updated_at = now()
     where id = p_repository_id;
$$;

-- Whether a user may see a private repository: an admin added it to a workspace they own.
create or replace function public.github_visible_to(p_owner text, p_name text, p_user_id text)
returns boolean language sql stable set search_path = public, pg_temp as $$
    select exists (
        select 1 from public.workspace_repositories m
          join public.workspaces w on w.id = m.workspace_id
         where m.added_by_admin and w.owner_id = p_user_id
           and lower(m.owner) = lower(p_owner) and lower(m.name) = lower(p_name));
$$;

-- ---------------------------------------------------------------------------------------------
-- Newer wins for reviews and comments, as for pull requests

create or replace function public.github_upsert_reviews(p_rows jsonb)
returns integer language sql set search_path = public, pg_temp as $$
    with changed as (
        insert into public.reviews as v (
            github_id, pull_request_id, author_id, state, submitted_at, url)
        select distinct on (s.github_id)
               s.github_id, s.pull_request_id, s.author_id, s.state, s.submitted_at, s.url
        from jsonb_to_recordset(coalesce(p_rows, '[]'::jsonb)) as s(
            github_id bigint, pull_request_id bigint, author_id bigint, state text,
            submitted_at timestamptz, url text)
        order by s.github_id, s.submitted_at desc nulls last
        on conflict (github_id) do update set
            author_id = excluded.author_id,
            state = excluded.state,
            submitted_at = excluded.submitted_at,
            url = excluded.url,
            captured_at = now()
        -- an older copy (a pending review read before its submission was stored) never wins
        where coalesce(excluded.submitted_at, '-infinity') >= coalesce(v.submitted_at, '-infinity')
          and (v.author_id, v.state, v.submitted_at, v.url)
              is distinct from (excluded.author_id, excluded.state, excluded.submitted_at,
                                excluded.url)
        returning 1
    )
    select count(*)::integer from changed;
$$;

create or replace function public.github_upsert_comments(p_rows jsonb)
returns integer language sql set search_path = public, pg_temp as $$
    with changed as (
        insert into public.comments as c (
            kind, github_id, pull_request_id, review_id, author_id, path, created_at,
            updated_at, url)
        select distinct on (s.kind, s.github_id)
               s.kind, s.github_id, s.pull_request_id, s.review_id, s.author_id, s.path,
               s.created_at, s.updated_at, s.url
        from jsonb_to_recordset(coalesce(p_rows, '[]'::jsonb)) as s(
            kind text, github_id bigint, pull_request_id bigint, review_id bigint,
            author_id bigint, path text, created_at timestamptz, updated_at timestamptz,
            url text)
        order by s.kind, s.github_id, s.updated_at desc nulls last
        on conflict (kind, github_id) do update set
            review_id = excluded.review_id,
            author_id = excluded.author_id,
            path = excluded.path,
            updated_at = excluded.updated_at,
            url = excluded.url,
            captured_at = now()
        -- an older copy (an edit read before a later one was stored) never wins
        where coalesce(excluded.updated_at, '-infinity') >= coalesce(c.updated_at, '-infinity')
          and (c.review_id, c.author_id, c.path, c.updated_at, c.url)
              is distinct from (excluded.review_id, excluded.author_id, excluded.path,
                                excluded.updated_at, excluded.url)
        returning 1
    )
    select count(*)::integer from changed;
$$;

-- The workspaces a repository's new rows make stale, from `p_since`: their metrics from that day
-- on are recomputed (a private repository only counts where an admin added it).
create or replace function public.workspace_mark_dirty(p_repository_id bigint, p_since date)
returns jsonb language sql set search_path = public, pg_temp as $$
    with members as (
        -- locked in id order: two captures marking the same workspaces never deadlock
        select w.id
          from public.workspaces w
          join public.workspace_repositories m on m.workspace_id = w.id
          join public.repositories r
            on lower(m.owner) = lower(r.owner) and lower(m.name) = lower(r.name)
         where p_since is not null and r.id = p_repository_id
           and (not r.is_private or m.added_by_admin)
         order by w.id
           for update of w
    ), marked as (
        update public.workspaces w
           set metrics_dirty_since = least(coalesce(w.metrics_dirty_since, p_since), p_since)
          from members
         where w.id = members.id
        returning w.id
    )
    select coalesce(jsonb_agg(distinct id), '[]'::jsonb) from marked;
$$;

-- One page of captured activity (see the first definition), plus: the workspaces whose metrics
-- the rows actually written make stale (`workspaces`), marked from the earliest day they touch.
create or replace function public.github_store_page(
    p_repository_id bigint, p_contributors jsonb, p_pull_requests jsonb, p_reviews jsonb,
    p_comments jsonb
) returns jsonb language plpgsql set search_path = public, pg_temp as $$
declare
    v_contributors integer;
    v_pull_requests integer;
    v_reviews integer;
    v_comments integer;
    v_since date;
begin
    if not exists (select 1 from public.repositories where id = p_repository_id) then
        raise exception 'repository % is not tracked', p_repository_id;
    end if;
    v_contributors := public.github_upsert_contributors(p_contributors);
    v_pull_requests := public.github_upsert_pull_requests(p_repository_id, p_pull_requests);
    v_reviews := public.github_upsert_reviews(p_reviews);
    v_comments := public.github_upsert_comments(p_comments);
    if v_pull_requests + v_reviews + v_comments > 0 then
        -- rows written by this transaction carry its `now()` as their capture time
        select least(
            (select min((p.created_at at time zone 'UTC')::date) from public.pull_requests p
              where p.captured_at = now()
                and p.github_id in (select (e ->> 'github_id')::bigint
                                      from jsonb_array_elements(p_pull_requests) e)),
            (select min((v.submitted_at at time zone 'UTC')::date) from public.reviews v
              where v.captured_at = now()
                and v.github_id in (select (e ->> 'github_id')::bigint
                                      from jsonb_array_elements(p_reviews) e)),
            (select min((c.created_at at time zone 'UTC')::date) from public.comments c
              where c.captured_at = now()
                and c.github_id in (select (e ->> 'github_id')::bigint
                                      from jsonb_array_elements(p_comments) e)))
          into v_since;
    end if;
    return jsonb_build_object(
        'contributors', v_contributors, 'pull_requests', v_pull_requests,
        'reviews', v_reviews, 'comments', v_comments,
        'workspaces', public.workspace_mark_dirty(p_repository_id, v_since));
end;
$$;

select public.app_lock_down_functions();
