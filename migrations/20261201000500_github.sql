-- GitHub capture: tracked repositories and their pull-request activity (pull requests, reviews,
-- issue and review comments, discussions), and the contributors who wrote them.
--
-- Rows are keyed on GitHub's own ids (`github_id`), so a capture repeated or overlapping another
-- changes nothing. Writes are bulk: each `github_upsert_*` function takes a jsonb array per table
-- and runs ONE `insert ... select from jsonb_to_recordset ... on conflict` per table, and leaves
-- rows whose values did not change untouched (`where ... is distinct from ...`).
-- `repositories.id` is the service's own id, the one other tables (workspaces) reference.

create table public.repositories (
    id bigint generated always as identity primary key,
    github_id bigint not null unique,
    node_id text,
    owner text not null,
    name text not null,
    stars integer not null default 0,
    forks integer not null default 0,
    is_private boolean not null default false,
    default_branch text,
    has_discussions boolean not null default false,
    pr_count integer,
    size_class text check (size_class in ('small', 'medium', 'large')),
    -- Set by the workspaces family: priority repositories are synced first and more often.
    is_priority boolean not null default false,
    status text not null default 'active' check (status in ('active', 'missing')),
    last_synced_at timestamptz,
    -- The newest `updatedAt` of a pull request seen by a completed sync: the next incremental
    -- sync stops at it.
    sync_watermark timestamptz,
    last_sync_reason text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create unique index repositories_owner_name_idx on public.repositories (lower(owner), lower(name));
alter table public.repositories enable row level security;

create table public.contributors (
    github_id bigint primary key,
    login text not null,
    avatar_url text,
    type text not null default 'User',
    updated_at timestamptz not null default now()
);
create index contributors_login_idx on public.contributors (lower(login));
alter table public.contributors enable row level security;

create table public.pull_requests (
    github_id bigint primary key,
    node_id text,
    repository_id bigint not null references public.repositories (id) on delete cascade,
    number integer not null,
    title text not null,
    state text not null check (state in ('open', 'closed', 'merged')),
    draft boolean not null default false,
    merged boolean not null default false,
    merged_at timestamptz,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    closed_at timestamptz,
    -- Null for a deleted ("ghost") author. Not a foreign key: every page stores its authors
    -- first, in the same transaction, and per-row key checks would halve the write rate.
    author_id bigint,
    additions integer,
    deletions integer,
    changed_files integer,
    commits integer,
    base_ref text,
    head_ref text,
    url text,
    captured_at timestamptz not null default now(),
    unique (repository_id, number)
);
create index pull_requests_repository_created_idx on public.pull_requests (repository_id, created_at);
create index pull_requests_repository_merged_idx on public.pull_requests (repository_id, merged_at)
    where merged_at is not null;
create index pull_requests_author_idx on public.pull_requests (author_id);
alter table public.pull_requests enable row level security;

create table public.reviews (
    github_id bigint primary key,
    pull_request_id bigint not null references public.pull_requests (github_id) on delete cascade,
    author_id bigint,
    state text not null,
    submitted_at timestamptz,
    url text,
    captured_at timestamptz not null default now()
);
create index reviews_pull_request_idx on public.reviews (pull_request_id, submitted_at);
alter table public.reviews enable row level security;

-- Issue comments (on the conversation) and review comments (on the diff), told apart by `kind`;
-- GitHub numbers them in separate sequences, hence the composite key.
create table public.comments (
    kind text not null check (kind in ('issue', 'review')),
    github_id bigint not null,
    pull_request_id bigint not null references public.pull_requests (github_id) on delete cascade,
    review_id bigint,
    author_id bigint,
    path text,
    created_at timestamptz not null,
    updated_at timestamptz,
    url text,
    captured_at timestamptz not null default now(),
    primary key (kind, github_id)
);
create index comments_pull_request_idx on public.comments (pull_request_id, created_at);
alter table public.comments enable row level security;

create table public.discussions (
    github_id bigint primary key,
    repository_id bigint not null references public.repositories (id) on delete cascade,
    number integer not null,
    title text not null,
    author_id bigint,
    category text,
    answered boolean not null default false,
    closed boolean not null default false,
    comment_count integer not null default 0,
    upvotes integer not null default 0,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    url text,
    captured_at timestamptz not null default now(),
    unique (repository_id, number)
);
alter table public.discussions enable row level security;

-- ETags of REST responses, per capture scope (e.g. one pull request's details), so a repeated
-- capture asks conditionally and a 304 costs no quota. `next_url` keeps the page's `Link: next`.
create table public.github_etags (
    scope text not null,
    url text not null,
    etag text not null,
    next_url text,
    fetched_at timestamptz not null default now(),
    primary key (scope, url)
);
alter table public.github_etags enable row level security;

-- ---------------------------------------------------------------------------------------------
-- Repositories

create or replace function public.github_repository_json(p_id bigint)
returns jsonb language sql stable set search_path = public, pg_temp as $$
    select to_jsonb(r) from public.repositories r where r.id = p_id;
$$;

-- Creates or refreshes a repository from GitHub's metadata (keys absent from p_repo keep their
-- value). A repository seen again is active again. A stale row holding the same owner/name (the
-- name now belongs to another repository) is renamed aside and marked missing.
create or replace function public.github_upsert_repository(p_repo jsonb)
returns jsonb language plpgsql set search_path = public, pg_temp as $$
declare
    v_github_id bigint := (p_repo ->> 'github_id')::bigint;
    v_id bigint;
begin
    if v_github_id is null or p_repo ->> 'owner' is null or p_repo ->> 'name' is null then
        raise exception 'github_id, owner and name are required';
    end if;
    -- GitHub moved the name to another repository: the old row keeps its data, renamed aside.
    update public.repositories
    set name = name || '~' || github_id, status = 'missing', updated_at = now()
    where lower(owner) = lower(p_repo ->> 'owner') and lower(name) = lower(p_repo ->> 'name')
      and github_id <> v_github_id;
    insert into public.repositories as r (
        github_id, node_id, owner, name, stars, forks, is_private, default_branch,
        has_discussions, pr_count, size_class)
    values (
        v_github_id, p_repo ->> 'node_id', p_repo ->> 'owner', p_repo ->> 'name',
        coalesce((p_repo ->> 'stars')::integer, 0), coalesce((p_repo ->> 'forks')::integer, 0),
        coalesce((p_repo ->> 'is_private')::boolean, false), p_repo ->> 'default_branch',
        coalesce((p_repo ->> 'has_discussions')::boolean, false),
        (p_repo ->> 'pr_count')::integer, p_repo ->> 'size_class')
    on conflict (github_id) do update set
        node_id = coalesce(excluded.node_id, r.node_id),
        owner = excluded.owner,
        name = excluded.name,
        stars = case when p_repo ? 'stars' then excluded.stars else r.stars end,
        forks = case when p_repo ? 'forks' then excluded.forks else r.forks end,
        is_private = case when p_repo ? 'is_private' then excluded.is_private
                          else r.is_private end,
        default_branch = coalesce(excluded.default_branch, r.default_branch),
        has_discussions = case when p_repo ? 'has_discussions' then excluded.has_discussions
                               else r.has_discussions end,
        pr_count = coalesce(excluded.pr_count, r.pr_count),
        size_class = coalesce(excluded.size_class, r.size_class),
        status = 'active',
        updated_at = now()
    returning r.id into v_id;
    return public.github_repository_json(v_id);
end;
$$;

create or replace function public.github_find_repository(p_owner text, p_name text)
returns jsonb language sql stable set search_path = public, pg_temp as $$
    select to_jsonb(r) from public.repositories r
    where lower(r.owner) = lower(p_owner) and lower(r.name) = lower(p_name);
$$;

-- The repository with its capture counts, for the API.
create or replace function public.github_repository_status(p_owner text, p_name text)
returns jsonb language sql stable set search_path = public, pg_temp as $$
    select to_jsonb(r) || jsonb_build_object(
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

-- Tracked repositories, priority first, least recently synced first (never synced before all).
create or replace function public.github_list_repositories(p_include_missing boolean)
returns jsonb language sql stable set search_path = public, pg_temp as $$
    select coalesce(jsonb_agg(to_jsonb(r) order by r.is_priority desc,
                              r.last_synced_at asc nulls first, r.id), '[]'::jsonb)
    from public.repositories r
    where p_include_missing or r.status = 'active';
$$;

-- A repository GitHub no longer knows (404 / NOT_FOUND): kept, but no longer synced.
create or replace function public.github_mark_missing(p_owner text, p_name text)
returns jsonb language sql set search_path = public, pg_temp as $$
    update public.repositories set status = 'missing', updated_at = now()
    where lower(owner) = lower(p_owner) and lower(name) = lower(p_name)
    returning to_jsonb(repositories.*);
$$;

-- Size classes in one statement: p_sizes = [{id, pr_count, size_class}].
create or replace function public.github_set_sizes(p_sizes jsonb)
returns integer language sql set search_path = public, pg_temp as $$
    with changed as (
        update public.repositories r
        set pr_count = s.pr_count, size_class = s.size_class, updated_at = now()
        from jsonb_to_recordset(p_sizes) as s(id bigint, pr_count integer, size_class text)
        where r.id = s.id
          and (r.pr_count, r.size_class) is distinct from (s.pr_count, s.size_class)
        returning 1
    )
    select count(*)::integer from changed;
$$;

-- Priority flags, for the workspaces family: one statement; the number of rows changed.
create or replace function public.github_set_priority(p_ids bigint[], p_is_priority boolean)
returns integer language sql set search_path = public, pg_temp as $$
    with changed as (
        update public.repositories set is_priority = p_is_priority, updated_at = now()
        where id = any(p_ids) and is_priority is distinct from p_is_priority
        returning 1
    )
    select count(*)::integer from changed;
$$;

-- A completed sync: the watermark only moves forward.
create or replace function public.github_finish_sync(
    p_repository_id bigint, p_watermark timestamptz, p_reason text
) returns jsonb language sql set search_path = public, pg_temp as $$
    update public.repositories
    set last_synced_at = now(),
        sync_watermark = greatest(sync_watermark, p_watermark),
        last_sync_reason = p_reason,
        updated_at = now()
    where id = p_repository_id
    returning to_jsonb(repositories.*);
$$;

-- ---------------------------------------------------------------------------------------------
-- Activity: one statement per table

create or replace function public.github_upsert_contributors(p_rows jsonb)
returns integer language sql set search_path = public, pg_temp as $$
    with changed as (
        insert into public.contributors as c (github_id, login, avatar_url, type)
        select distinct on (s.github_id) s.github_id, s.login, s.avatar_url,
               coalesce(s.type, 'User')
        from jsonb_to_recordset(coalesce(p_rows, '[]'::jsonb))
            as s(github_id bigint, login text, avatar_url text, type text)
        where s.github_id is not null
        order by s.github_id
        on conflict (github_id) do update set
            login = excluded.login,
            avatar_url = coalesce(excluded.avatar_url, c.avatar_url),
            type = excluded.type,
            updated_at = now()
        where (c.login, c.avatar_url, c.type)
              is distinct from (excluded.login, coalesce(excluded.avatar_url, c.avatar_url),
                                excluded.type)
        returning 1
    )
    select count(*)::integer from changed;
$$;

create or replace function public.github_upsert_pull_requests(p_repository_id bigint, p_rows jsonb)
returns integer language sql set search_path = public, pg_temp as $$
    with changed as (
        insert into public.pull_requests as p (
            github_id, node_id, repository_id, number, title, state, draft, merged, merged_at,
            created_at, updated_at, closed_at, author_id, additions, deletions, changed_files,
            commits, base_ref, head_ref, url)
        select distinct on (s.github_id)
               s.github_id, s.node_id, p_repository_id, s.number, s.title, s.state,
               coalesce(s.draft, false), coalesce(s.merged, false), s.merged_at, s.created_at,
               s.updated_at, s.closed_at, s.author_id, s.additions, s.deletions,
               s.changed_files, s.commits, s.base_ref, s.head_ref, s.url
        from jsonb_to_recordset(coalesce(p_rows, '[]'::jsonb)) as s(
            github_id bigint, node_id text, number integer, title text, state text,
            draft boolean, merged boolean, merged_at timestamptz, created_at timestamptz,
            updated_at timestamptz, closed_at timestamptz, author_id bigint, additions integer,
            deletions integer, changed_files integer, commits integer, base_ref text,
            head_ref text, url text)
        order by s.github_id, s.updated_at desc
        on conflict (github_id) do update set
            node_id = coalesce(excluded.node_id, p.node_id),
            number = excluded.number,
            title = excluded.title,
            state = excluded.state,
            draft = excluded.draft,
            merged = excluded.merged,
            merged_at = excluded.merged_at,
            created_at = excluded.created_at,
            updated_at = excluded.updated_at,
            closed_at = excluded.closed_at,
            author_id = excluded.author_id,
            additions = coalesce(excluded.additions, p.additions),
            deletions = coalesce(excluded.deletions, p.deletions),
            changed_files = coalesce(excluded.changed_files, p.changed_files),
            commits = coalesce(excluded.commits, p.commits),
            base_ref = coalesce(excluded.base_ref, p.base_ref),
            head_ref = coalesce(excluded.head_ref, p.head_ref),
            url = coalesce(excluded.url, p.url),
            captured_at = now()
        -- An older copy (a page fetched before a newer one was stored) never wins.
        where p.updated_at <= excluded.updated_at
          and (p.title, p.state, p.draft, p.merged, p.merged_at, p.updated_at, p.closed_at,
               p.author_id, p.additions, p.deletions, p.changed_files, p.commits, p.base_ref,
               p.head_ref, p.url)
              is distinct from
              (excluded.title, excluded.state, excluded.draft, excluded.merged,
               excluded.merged_at, excluded.updated_at, excluded.closed_at, excluded.author_id,
               coalesce(excluded.additions, p.additions), coalesce(excluded.deletions, p.deletions),
               coalesce(excluded.changed_files, p.changed_files),
               coalesce(excluded.commits, p.commits), coalesce(excluded.base_ref, p.base_ref),
               coalesce(excluded.head_ref, p.head_ref), coalesce(excluded.url, p.url))
        returning 1
    )
    select count(*)::integer from changed;
$$;

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
        order by s.github_id
        on conflict (github_id) do update set
            author_id = excluded.author_id,
            state = excluded.state,
            submitted_at = excluded.submitted_at,
            url = excluded.url,
            captured_at = now()
        where (v.author_id, v.state, v.submitted_at, v.url)
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
        order by s.kind, s.github_id
        on conflict (kind, github_id) do update set
            review_id = excluded.review_id,
            author_id = excluded.author_id,
            path = excluded.path,
            updated_at = excluded.updated_at,
            url = excluded.url,
            captured_at = now()
        where (c.review_id, c.author_id, c.path, c.updated_at, c.url)
              is distinct from (excluded.review_id, excluded.author_id, excluded.path,
                                excluded.updated_at, excluded.url)
        returning 1
    )
    select count(*)::integer from changed;
$$;

-- One page of captured activity: contributors first (the others reference them), then pull
-- requests, reviews and comments; one statement each, one transaction. Returns rows changed.
create or replace function public.github_store_page(
    p_repository_id bigint, p_contributors jsonb, p_pull_requests jsonb, p_reviews jsonb,
    p_comments jsonb
) returns jsonb language plpgsql set search_path = public, pg_temp as $$
declare
    v_contributors integer;
    v_pull_requests integer;
    v_reviews integer;
    v_comments integer;
begin
    if not exists (select 1 from public.repositories where id = p_repository_id) then
        raise exception 'repository % is not tracked', p_repository_id;
    end if;
    v_contributors := public.github_upsert_contributors(p_contributors);
    v_pull_requests := public.github_upsert_pull_requests(p_repository_id, p_pull_requests);
    v_reviews := public.github_upsert_reviews(p_reviews);
    v_comments := public.github_upsert_comments(p_comments);
    return jsonb_build_object(
        'contributors', v_contributors, 'pull_requests', v_pull_requests,
        'reviews', v_reviews, 'comments', v_comments);
end;
$$;

create or replace function public.github_store_discussions(
    p_repository_id bigint, p_contributors jsonb, p_discussions jsonb
) returns jsonb language plpgsql set search_path = public, pg_temp as $$
declare
    v_contributors integer;
    v_discussions integer;
begin
    v_contributors := public.github_upsert_contributors(p_contributors);
    with changed as (
        insert into public.discussions as d (
            github_id, repository_id, number, title, author_id, category, answered, closed,
            comment_count, upvotes, created_at, updated_at, url)
        select distinct on (s.github_id)
               s.github_id, p_repository_id, s.number, s.title, s.author_id, s.category,
               coalesce(s.answered, false), coalesce(s.closed, false),
               coalesce(s.comment_count, 0), coalesce(s.upvotes, 0), s.created_at,
               s.updated_at, s.url
        from jsonb_to_recordset(coalesce(p_discussions, '[]'::jsonb)) as s(
            github_id bigint, number integer, title text, author_id bigint, category text,
            answered boolean, closed boolean, comment_count integer, upvotes integer,
            created_at timestamptz, updated_at timestamptz, url text)
        order by s.github_id
        on conflict (github_id) do update set
            title = excluded.title,
            author_id = excluded.author_id,
            category = excluded.category,
            answered = excluded.answered,
            closed = excluded.closed,
            comment_count = excluded.comment_count,
            upvotes = excluded.upvotes,
            updated_at = excluded.updated_at,
            url = excluded.url,
            captured_at = now()
        where (d.title, d.author_id, d.category, d.answered, d.closed, d.comment_count,
               d.upvotes, d.updated_at, d.url)
              is distinct from
              (excluded.title, excluded.author_id, excluded.category, excluded.answered,
               excluded.closed, excluded.comment_count, excluded.upvotes, excluded.updated_at,
               excluded.url)
        returning 1
    )
    select count(*)::integer into v_discussions from changed;
    return jsonb_build_object('contributors', v_contributors, 'discussions', v_discussions);
end;
$$;

-- ---------------------------------------------------------------------------------------------
-- ETags

create or replace function public.github_get_etags(p_scope text)
returns jsonb language sql stable set search_path = public, pg_temp as $$
    select coalesce(jsonb_object_agg(url, jsonb_build_object('etag', etag, 'next_url', next_url)),
                    '{}'::jsonb)
    from public.github_etags where scope = p_scope;
$$;

-- p_rows = [{url, etag, next_url}], one statement.
create or replace function public.github_put_etags(p_scope text, p_rows jsonb)
returns integer language sql set search_path = public, pg_temp as $$
    with changed as (
        insert into public.github_etags as e (scope, url, etag, next_url)
        select distinct on (s.url) p_scope, s.url, s.etag, s.next_url
        from jsonb_to_recordset(coalesce(p_rows, '[]'::jsonb))
            as s(url text, etag text, next_url text)
        where s.etag is not null
        order by s.url
        on conflict (scope, url) do update set
            etag = excluded.etag, next_url = excluded.next_url, fetched_at = now()
        returning 1
    )
    select count(*)::integer from changed;
$$;

select public.app_lock_down_functions();
