-- Foundation: helpers every later migration uses, and the ping table of the first function.
-- Valid on plain Postgres 15+ and on Supabase. The service connects as the owner (plain Postgres)
-- or the service role (Supabase), both of which bypass RLS; RLS is on for every table so that
-- Supabase's anon/authenticated roles see nothing unless a policy says so.

-- Data operations are SQL functions in `public` (so PostgREST exposes them as /rpc/<name>).
-- Supabase grants EXECUTE on new functions to anon and authenticated by default; this takes that
-- back for every function in `public`, leaving them to the owner and the service role.
create or replace function public.app_lock_down_functions() returns void
language plpgsql as $$
declare
    fn record;
begin
    for fn in
        select p.oid::regprocedure as signature
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = 'public' and p.prokind = 'f'
          and pg_get_userbyid(p.proowner) = current_user
    loop
        execute format('revoke execute on function %s from public', fn.signature);
        if exists (select 1 from pg_roles where rolname = 'anon') then
            execute format('revoke execute on function %s from anon, authenticated', fn.signature);
        end if;
        if exists (select 1 from pg_roles where rolname = 'service_role') then
            execute format('grant execute on function %s to service_role', fn.signature);
        end if;
    end loop;
end;
$$;

create table public.pings (
    run_id text not null,
    step text not null,
    message text not null,
    recorded_at timestamptz not null default now(),
    primary key (run_id, step)
);
alter table public.pings enable row level security;

-- Idempotent: a step retried after its write committed records nothing twice.
create or replace function public.record_ping(p_run_id text, p_step text, p_message text)
returns jsonb language sql as $$
    with inserted as (
        insert into public.pings (run_id, step, message) values (p_run_id, p_step, p_message)
        on conflict (run_id, step) do update set message = excluded.message
        returning run_id, step, message, recorded_at
    )
    select jsonb_build_object('run_id', run_id, 'step', step, 'message', message,
                              'recorded_at', recorded_at)
    from inserted;
$$;

select public.app_lock_down_functions();

-- Readiness: one round trip through whichever transport is in use.
create or replace function public.app_ping_db() returns jsonb language sql stable as $$
    select jsonb_build_object('ok', true, 'at', now());
$$;
select public.app_lock_down_functions();
