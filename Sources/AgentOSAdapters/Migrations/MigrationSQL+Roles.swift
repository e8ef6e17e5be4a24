extension MigrationSQL {
    /// The tables an action changes. An operator's own login may change them only inside a
    /// transaction that opened an audited action (`agentos_api.open_action`); see D71.
    static let gatedTables = [
        "queues", "jobs", "job_events", "workers", "managers", "logs", "config", "config_history", "alerts", "stats_minutely",
        "user_permissions", "service_log_levels", "log_mutes", "log_alert_rules", "log_bookmarks", "health_checks", "console_settings"
    ]

    /// V12 (issue 17, D71): the server enforces. Five NOLOGIN group roles mirror the RBAC roles; an
    /// operator's login is a member of one of them. Groups may read every AgentOS table and change
    /// none outside an audited action: the console opens one in the effect's transaction with
    /// `agentos_api.open_action`, which checks the caller's role against the policy the migration
    /// wrote (`agentos_private.role_actions`, nobody's to change but the owner's) and the intent
    /// row the caller wrote under their own name. Statement triggers on every operational table
    /// refuse a change by an operator login in a transaction with no open action. Logins in no
    /// group (the shared login of demos, `agentos sim`, superusers) are not gated: the console
    /// says so ("RBAC advisory (shared login)"). Roles are created only where the migrating role
    /// may create them; without them every login is a shared login.
    static let enforcedRoles = """
        DO $$
        DECLARE r text;
        BEGIN
            IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user AND (rolsuper OR rolcreaterole)) THEN
                FOREACH r IN ARRAY ARRAY['agentos_owner', 'agentos_shared', 'agentos_readonly', 'agentos_user', 'agentos_operator',
                                         'agentos_supervisor', 'agentos_admin'] LOOP
                    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
                        EXECUTE format('CREATE ROLE %I NOLOGIN', r);
                    END IF;
                END LOOP;
                -- The owner of the API creates operators' logins (operator_grant); nobody logs in as it.
                IF NOT (SELECT rolcreaterole FROM pg_roles WHERE rolname = 'agentos_owner') THEN
                    ALTER ROLE agentos_owner NOLOGIN CREATEROLE;
                END IF;
                IF NOT pg_has_role(current_user, 'agentos_owner', 'MEMBER') THEN
                    EXECUTE format('GRANT agentos_owner TO %I', current_user);
                END IF;
            END IF;
        END;
        $$;

        CREATE SCHEMA IF NOT EXISTS agentos_private;
        CREATE SCHEMA IF NOT EXISTS agentos_api;
        REVOKE ALL ON SCHEMA agentos_private FROM PUBLIC;
        GRANT USAGE ON SCHEMA agentos_api TO PUBLIC;

        -- The policy (role × action), written by `agentos migrate` from the console's Policy.
        CREATE TABLE IF NOT EXISTS agentos_private.role_actions (
            role        text NOT NULL,
            action      text NOT NULL,
            own_only    boolean NOT NULL DEFAULT false,
            PRIMARY KEY (role, action)
        );
        CREATE TABLE IF NOT EXISTS agentos_private.policy_version (
            singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
            digest      text NOT NULL,
            updated_at  timestamptz NOT NULL DEFAULT now()
        );
        -- The actions open in live transactions: a row lives from open_action to its transaction's
        -- commit (a deferred trigger deletes it) or rollback, so the table stays empty.
        CREATE UNLOGGED TABLE IF NOT EXISTS agentos_private.open_actions (
            xid         xid8 PRIMARY KEY,
            request_id  uuid NOT NULL,
            action      text NOT NULL,
            login       text NOT NULL
        );
        -- An intent opens one transaction only.
        CREATE TABLE IF NOT EXISTS agentos_private.used_intents (
            request_id  uuid PRIMARY KEY,
            used_at     timestamptz NOT NULL DEFAULT now()
        );

        -- The role of the session's login: one of the five; 'none' for a login in no group (a revoked
        -- operator); NULL for a shared login: a superuser, a member of agentos_shared or of
        -- agentos_console (migration 3's role for consoles), or the owner of the AgentOS tables (the
        -- single login of a deployment that predates operators' logins).
        CREATE OR REPLACE FUNCTION agentos_api.my_role() RETURNS text
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
            SELECT CASE
                WHEN r.rolsuper
                     OR (to_regrole('agentos_shared') IS NOT NULL AND pg_has_role(session_user, 'agentos_shared', 'MEMBER'))
                     OR (to_regrole('agentos_console') IS NOT NULL AND pg_has_role(session_user, 'agentos_console', 'MEMBER'))
                     OR pg_has_role(session_user, (SELECT relowner FROM pg_class WHERE oid = 'public.jobs'::regclass), 'MEMBER') THEN NULL
                ELSE coalesce(
                    (SELECT g FROM unnest(ARRAY['admin', 'supervisor', 'operator', 'user', 'readonly']) WITH ORDINALITY AS t(g, o)
                     WHERE to_regrole('agentos_' || g) IS NOT NULL AND pg_has_role(session_user, ('agentos_' || g)::regrole, 'MEMBER')
                     ORDER BY o LIMIT 1),
                    'none')
            END
            FROM pg_roles r WHERE r.rolname = session_user
        $$;

        -- Operators' logins this API made (`agentos operator grant`): the only roles it changes.
        CREATE TABLE IF NOT EXISTS agentos_private.operators (
            login       text PRIMARY KEY,
            role        text,
            granted_by  text NOT NULL,
            granted_at  timestamptz NOT NULL DEFAULT now(),
            revoked_at  timestamptz
        );

        -- Who may provision: an admin's own login, a superuser, or the owner's members (the deployer).
        CREATE OR REPLACE FUNCTION agentos_private.may_provision() RETURNS boolean
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
            SELECT agentos_api.my_role() = 'admin'
                OR (SELECT rolsuper FROM pg_roles WHERE rolname = session_user)
                OR pg_has_role(session_user, 'agentos_owner', 'MEMBER')
        $$;

        -- Creates the login when missing (with a SCRAM verifier the client computed: no password
        -- travels or lands in a log) and makes it a member of exactly one group.
        CREATE OR REPLACE FUNCTION agentos_api.operator_grant(p_login text, p_role text, p_verifier text) RETURNS text
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
        DECLARE
            created boolean := false;
            g text;
        BEGIN
            IF NOT agentos_private.may_provision() THEN
                RAISE EXCEPTION 'operator grant: % is not an admin', session_user USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF p_login !~ '^[a-z_][a-z0-9_.-]{0,62}$' OR p_login LIKE 'agentos%' OR p_login LIKE 'pg\\_%' THEN
                RAISE EXCEPTION 'operator grant: "%" is not a valid operator login (lower-case letters, digits, _ . -; not agentos* or pg_*)', p_login
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            IF p_role NOT IN ('admin', 'supervisor', 'operator', 'user', 'readonly') THEN
                RAISE EXCEPTION 'operator grant: unknown role "%" (admin, supervisor, operator, user, readonly)', p_role
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            IF p_verifier IS NOT NULL AND p_verifier !~ '^SCRAM-SHA-256\\$' THEN
                RAISE EXCEPTION 'operator grant: the password must come as a SCRAM-SHA-256 verifier' USING ERRCODE = 'invalid_parameter_value';
            END IF;
            IF to_regrole(p_login) IS NULL THEN
                EXECUTE format('CREATE ROLE %I LOGIN', p_login);
                created := true;
            ELSIF NOT EXISTS (SELECT 1 FROM agentos_private.operators WHERE login = p_login) THEN
                RAISE EXCEPTION 'operator grant: role "%" exists and is not an operator login made by agentos', p_login
                    USING ERRCODE = 'insufficient_privilege';
            ELSE
                EXECUTE format('ALTER ROLE %I LOGIN', p_login);
            END IF;
            IF p_verifier IS NOT NULL THEN
                EXECUTE format('ALTER ROLE %I PASSWORD %L', p_login, p_verifier);
            END IF;
            FOREACH g IN ARRAY ARRAY['admin', 'supervisor', 'operator', 'user', 'readonly'] LOOP
                IF g <> p_role AND pg_has_role(p_login, 'agentos_' || g, 'MEMBER') THEN
                    EXECUTE format('REVOKE %I FROM %I', 'agentos_' || g, p_login);
                END IF;
            END LOOP;
            EXECUTE format('GRANT %I TO %I', 'agentos_' || p_role, p_login);
            INSERT INTO agentos_private.operators (login, role, granted_by) VALUES (p_login, p_role, session_user)
            ON CONFLICT (login) DO UPDATE SET role = EXCLUDED.role, granted_by = EXCLUDED.granted_by, granted_at = now(), revoked_at = NULL;
            RETURN CASE WHEN created THEN 'created' ELSE 'updated' END;
        END;
        $$;

        -- Takes every group away and the right to log in; the login stays (its audit rows name it).
        CREATE OR REPLACE FUNCTION agentos_api.operator_revoke(p_login text) RETURNS boolean
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
        DECLARE g text;
        BEGIN
            IF NOT agentos_private.may_provision() THEN
                RAISE EXCEPTION 'operator revoke: % is not an admin', session_user USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF NOT EXISTS (SELECT 1 FROM agentos_private.operators WHERE login = p_login AND revoked_at IS NULL) THEN
                RETURN false;
            END IF;
            FOREACH g IN ARRAY ARRAY['admin', 'supervisor', 'operator', 'user', 'readonly'] LOOP
                IF pg_has_role(p_login, 'agentos_' || g, 'MEMBER') THEN
                    EXECUTE format('REVOKE %I FROM %I', 'agentos_' || g, p_login);
                END IF;
            END LOOP;
            EXECUTE format('ALTER ROLE %I NOLOGIN', p_login);
            UPDATE agentos_private.operators SET role = NULL, revoked_at = now() WHERE login = p_login;
            RETURN true;
        END;
        $$;

        CREATE OR REPLACE FUNCTION agentos_api.operator_list()
        RETURNS TABLE (login text, role text, can_login boolean, granted_by text, granted_at timestamptz, revoked_at timestamptz)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
            SELECT o.login, o.role, coalesce(r.rolcanlogin, false), o.granted_by, o.granted_at, o.revoked_at
            FROM agentos_private.operators o LEFT JOIN pg_roles r ON r.rolname = o.login
            ORDER BY o.login
        $$;

        -- can-i, decided by the server: 'allow', 'own' (role user: own jobs only) or 'deny: why'.
        CREATE OR REPLACE FUNCTION agentos_api.can_i(p_action text) RETURNS text
        LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
        DECLARE
            r text := agentos_api.my_role();
            own boolean;
        BEGIN
            IF r IS NULL THEN RETURN 'advisory: shared login'; END IF;
            IF r = 'none' THEN RETURN format('deny: login %s has no AgentOS role', session_user); END IF;
            SELECT own_only INTO own FROM agentos_private.role_actions WHERE role = r AND action = p_action;
            IF NOT FOUND THEN RETURN format('deny: role %s may not run %s', r, p_action); END IF;
            RETURN CASE WHEN own THEN 'own' ELSE 'allow' END;
        END;
        $$;

        -- Opens the audited action `p_action` of request `p_request` in this transaction: the caller's
        -- role must allow it, the caller must have written its intent row under their own name, and
        -- the intent opens no other transaction. A shared login opens nothing (it is not gated).
        CREATE OR REPLACE FUNCTION agentos_api.open_action(p_request uuid, p_action text, p_target text) RETURNS void
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
        DECLARE
            r text := agentos_api.my_role();
            own boolean;
        BEGIN
            IF r IS NULL THEN RETURN; END IF;
            SELECT own_only INTO own FROM agentos_private.role_actions WHERE role = r AND action = p_action;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'role % may not run %', r, p_action USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF own AND NOT EXISTS (SELECT 1 FROM public.jobs WHERE owner = session_user AND id = CASE
                   WHEN p_target ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN p_target::uuid END) THEN
                RAISE EXCEPTION 'role % may run % on its own jobs only: % is not %''s', r, p_action, p_target, session_user
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF NOT EXISTS (SELECT 1 FROM public.audit_logs WHERE request_id = p_request AND phase = 'intent'
                                                         AND user_id = session_user AND action = p_action) THEN
                RAISE EXCEPTION 'no intent row of % for % (request %): an action is audited before it runs', session_user, p_action, p_request
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            INSERT INTO agentos_private.used_intents (request_id) VALUES (p_request) ON CONFLICT DO NOTHING;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'the intent of request % opened a transaction already', p_request USING ERRCODE = 'insufficient_privilege';
            END IF;
            INSERT INTO agentos_private.open_actions (xid, request_id, action, login)
            VALUES (pg_current_xact_id(), p_request, p_action, session_user);
        END;
        $$;

        CREATE OR REPLACE FUNCTION agentos_private.close_action() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
        BEGIN
            DELETE FROM agentos_private.open_actions WHERE xid = NEW.xid;
            RETURN NULL;
        END;
        $$;
        DROP TRIGGER IF EXISTS open_actions_close ON agentos_private.open_actions;
        CREATE CONSTRAINT TRIGGER open_actions_close AFTER INSERT ON agentos_private.open_actions
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION agentos_private.close_action();

        -- Whether this transaction opened an action (for the gate, which runs as the invoker).
        CREATE OR REPLACE FUNCTION agentos_api.action_open() RETURNS boolean
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
            SELECT EXISTS (SELECT 1 FROM agentos_private.open_actions WHERE xid = pg_current_xact_id())
        $$;

        -- Whether the statement runs as a role the operator's login could take itself (the login or,
        -- by SET ROLE, one of its groups), not as the owner of a SECURITY DEFINER function of the API.
        CREATE OR REPLACE FUNCTION agentos_api.gated() RETURNS boolean
        LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
            SELECT agentos_api.my_role() IS NOT NULL AND (current_user = session_user OR pg_has_role(session_user, current_user, 'MEMBER'))
        $$;

        -- The gate (runs as the role executing the statement).
        CREATE OR REPLACE FUNCTION agentos_api.require_open_action() RETURNS trigger
        LANGUAGE plpgsql SET search_path = pg_catalog AS $$
        BEGIN
            IF agentos_api.gated() AND NOT agentos_api.action_open() THEN
                RAISE EXCEPTION '% on % by % outside an audited action', TG_OP, TG_TABLE_NAME, session_user
                    USING ERRCODE = 'insufficient_privilege',
                          HINT = 'operators change AgentOS tables only through agentos actions, which are audited';
            END IF;
            RETURN NULL;
        END;
        $$;

        -- A durable idempotency result belongs to a request its writer audited.
        CREATE OR REPLACE FUNCTION agentos_api.owns_request(p_request uuid) RETURNS boolean
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
            SELECT EXISTS (SELECT 1 FROM public.audit_logs WHERE request_id = p_request AND user_id = session_user)
        $$;
        CREATE OR REPLACE FUNCTION agentos_api.require_own_request() RETURNS trigger
        LANGUAGE plpgsql SET search_path = pg_catalog AS $$
        BEGIN
            IF agentos_api.gated() AND (NEW.user_id <> session_user OR NOT agentos_api.owns_request(NEW.request_id)) THEN
                RAISE EXCEPTION 'idempotency result of % for request % refused: not an audited request of %', NEW.user_id, NEW.request_id, session_user
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NEW;
        END;
        $$;
        DROP TRIGGER IF EXISTS idempotency_results_own ON idempotency_results;
        CREATE TRIGGER idempotency_results_own BEFORE INSERT OR UPDATE ON idempotency_results
            FOR EACH ROW EXECUTE FUNCTION agentos_api.require_own_request();

        -- action_history rows carry their writer's login.
        CREATE OR REPLACE FUNCTION agentos_api.stamp_login() RETURNS trigger
        LANGUAGE plpgsql SET search_path = pg_catalog AS $$
        BEGIN
            IF agentos_api.my_role() IS NOT NULL THEN NEW.user_id := session_user; END IF;
            RETURN NEW;
        END;
        $$;
        DROP TRIGGER IF EXISTS action_history_login ON action_history;
        CREATE TRIGGER action_history_login BEFORE INSERT ON action_history FOR EACH ROW EXECUTE FUNCTION agentos_api.stamp_login();

        -- The job counters are kept by the server, whoever changed the jobs.
        ALTER FUNCTION job_counts_apply() SECURITY DEFINER;
        ALTER FUNCTION job_counts_apply() SET search_path = public;
        ALTER FUNCTION job_counts_compact() SECURITY DEFINER;
        ALTER FUNCTION job_counts_compact() SET search_path = public;

        REVOKE ALL ON ALL FUNCTIONS IN SCHEMA agentos_private FROM PUBLIC;
        \(gatedTables.map { t in
            """
            DROP TRIGGER IF EXISTS \(t)_gate ON \(t);
            CREATE TRIGGER \(t)_gate BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON \(t)
                FOR EACH STATEMENT EXECUTE FUNCTION agentos_api.require_open_action();
            """
        }.joined(separator: "\n"))

        DO $$
        DECLARE g text;
        BEGIN
            IF to_regrole('agentos_owner') IS NULL THEN RETURN; END IF;
            GRANT ALL ON ALL TABLES IN SCHEMA public, agentos_private TO agentos_owner;
            GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO agentos_owner;
            GRANT USAGE ON SCHEMA agentos_private TO agentos_owner;
            ALTER FUNCTION agentos_api.my_role() OWNER TO agentos_owner;
            ALTER FUNCTION agentos_api.can_i(text) OWNER TO agentos_owner;
            ALTER FUNCTION agentos_api.open_action(uuid, text, text) OWNER TO agentos_owner;
            ALTER FUNCTION agentos_api.action_open() OWNER TO agentos_owner;
            ALTER FUNCTION agentos_api.owns_request(uuid) OWNER TO agentos_owner;
            ALTER FUNCTION agentos_api.operator_grant(text, text, text) OWNER TO agentos_owner;
            ALTER FUNCTION agentos_api.operator_revoke(text) OWNER TO agentos_owner;
            ALTER FUNCTION agentos_api.operator_list() OWNER TO agentos_owner;
            ALTER FUNCTION agentos_private.may_provision() OWNER TO agentos_owner;
            ALTER FUNCTION agentos_private.close_action() OWNER TO agentos_owner;
            -- Every table is readable by every group; nothing is writable but what an action opens.
            FOREACH g IN ARRAY ARRAY['agentos_readonly', 'agentos_user', 'agentos_operator', 'agentos_supervisor', 'agentos_admin'] LOOP
                EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA public FROM %I', g);
                EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA public TO %I', g);
                EXECUTE format('GRANT INSERT ON action_history TO %I', g);
                EXECUTE format('GRANT USAGE ON SEQUENCE action_history_id_seq TO %I', g);
                IF g <> 'agentos_readonly' THEN
                    EXECUTE format('GRANT INSERT, UPDATE, DELETE ON %s TO %I', '\(gatedTables.joined(separator: ", "))', g);
                    EXECUTE format('GRANT INSERT, UPDATE ON idempotency_results TO %I', g);
                    EXECUTE format('GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO %I', g);
                END IF;
                IF g <> 'agentos_readonly' THEN EXECUTE format('GRANT INSERT ON audit_logs TO %I', g); END IF; -- TEMP-T17A

            END LOOP;
        END;
        $$;
        """
}
