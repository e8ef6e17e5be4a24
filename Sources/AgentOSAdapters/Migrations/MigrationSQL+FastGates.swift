extension MigrationSQL {
    /// V14 (issue 17, D78): the enforcing functions of V12 in PL/pgSQL, same logic. As SQL-language
    /// functions called from triggers and PL/pgSQL, PostgreSQL parsed and planned their query on
    /// every call: `gated()` (every write's gate) took ≈ 220 µs, five times per job.cancel, about
    /// 1 ms of the server's time per action. PL/pgSQL keeps each plan for the session. `gated()`
    /// also asks the cheap question first: a statement run as the owner of a SECURITY DEFINER
    /// function (the audit's log line, the job counters) is not gated, whatever the login's role.
    /// Nothing is cached across calls: a revoked login is refused on its next statement, as before.
    static let fastGates = """
        CREATE OR REPLACE FUNCTION agentos_api.my_role() RETURNS text
        LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
        DECLARE
            g text;
        BEGIN
            IF (SELECT rolsuper FROM pg_roles WHERE rolname = session_user)
               OR (to_regrole('agentos_shared') IS NOT NULL AND pg_has_role(session_user, 'agentos_shared', 'MEMBER'))
               OR (to_regrole('agentos_console') IS NOT NULL AND pg_has_role(session_user, 'agentos_console', 'MEMBER'))
               OR pg_has_role(session_user, (SELECT relowner FROM pg_class WHERE oid = 'public.jobs'::regclass), 'MEMBER') THEN
                RETURN NULL;
            END IF;
            FOREACH g IN ARRAY ARRAY['admin', 'supervisor', 'operator', 'user', 'readonly'] LOOP
                IF to_regrole('agentos_' || g) IS NOT NULL AND pg_has_role(session_user, ('agentos_' || g)::regrole, 'MEMBER') THEN
                    RETURN g;
                END IF;
            END LOOP;
            RETURN 'none';
        END;
        $$;

        CREATE OR REPLACE FUNCTION agentos_api.action_open() RETURNS boolean
        LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
        BEGIN
            RETURN EXISTS (SELECT 1 FROM agentos_private.open_actions WHERE xid = pg_current_xact_id());
        END;
        $$;

        CREATE OR REPLACE FUNCTION agentos_api.gated() RETURNS boolean
        LANGUAGE plpgsql STABLE SET search_path = pg_catalog AS $$
        BEGIN
            IF current_user <> session_user AND NOT pg_has_role(session_user, current_user, 'MEMBER') THEN
                RETURN false;
            END IF;
            RETURN agentos_api.my_role() IS NOT NULL;
        END;
        $$;

        CREATE OR REPLACE FUNCTION agentos_api.owns_request(p_request uuid) RETURNS boolean
        LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
        BEGIN
            RETURN EXISTS (SELECT 1 FROM public.audit_logs WHERE request_id = p_request AND user_id = session_user);
        END;
        $$;
        """
}
