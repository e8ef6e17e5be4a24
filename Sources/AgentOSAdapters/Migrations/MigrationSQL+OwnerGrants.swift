extension MigrationSQL {
    /// V11 (issue 17): what V12 and V13 need when the migrating login is not a superuser but may
    /// create roles (a CREATEROLE login, as a managed PostgreSQL's administrator is). `ALTER … OWNER
    /// TO r` asks that `r` may create in the object's schema, and a superuser skips that check: V12
    /// hands the API's functions to `agentos_owner` (schemas `agentos_api`, `agentos_private`) and
    /// V13 the audit functions in `public` to `agentos_auditor`. The two roles and the two schemas
    /// are made here if missing (V12 and V13 find them made and go on). On a database past V13 this
    /// runs after it and grants what the owners of those objects hold there already.
    static let ownerGrants = """
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user AND (rolsuper OR rolcreaterole)) THEN
                RETURN;
            END IF;
            IF to_regrole('agentos_owner') IS NULL THEN
                CREATE ROLE agentos_owner NOLOGIN;
            END IF;
            IF to_regrole('agentos_auditor') IS NULL THEN
                CREATE ROLE agentos_auditor NOLOGIN;
            END IF;
            CREATE SCHEMA IF NOT EXISTS agentos_api;
            CREATE SCHEMA IF NOT EXISTS agentos_private;
            GRANT CREATE ON SCHEMA agentos_api, agentos_private TO agentos_owner;
            GRANT CREATE ON SCHEMA public TO agentos_auditor;
        END;
        $$;
        """

    /// V16 (issue 17): V13 granted the audit API to the migrating login and then handed the
    /// functions to `agentos_auditor`; a change of owner turns the old owner's own grants into the
    /// new owner's, so a migrating login that is no superuser lost its EXECUTE (provisioning, which
    /// it does, appends audit rows). It joins the auditor, grants them again, and leaves (as V13).
    static let auditAPIForTheMigratingLogin = asAuditor(
        """
            IF to_regrole('agentos_auditor') IS NOT NULL AND NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
                EXECUTE format('GRANT EXECUTE ON FUNCTION public.audit_append(uuid, timestamptz, text, text, text, text, text, text, uuid, '
                               'text, text, text, text, jsonb, jsonb, inet, text, integer), public.audit_verify(), public.audit_head(), '
                               'public.audit_chain_start() TO %I', current_user);
            END IF;
        """)

    /// `body` (PL/pgSQL statements) run by a member of `agentos_auditor`, the owner of the audit
    /// objects: the migrating login joins it if it is not one, and leaves after (as V13 and V15 do).
    /// Where the role was never made (no login could create roles), the migrating login owns them.
    static func asAuditor(_ body: String) -> String {
        """
        DO $$
        DECLARE
            joined boolean := false;
        BEGIN
            IF to_regrole('agentos_auditor') IS NOT NULL AND NOT pg_has_role(current_user, 'agentos_auditor', 'MEMBER') THEN
                EXECUTE format('GRANT agentos_auditor TO %I', current_user);
                joined := true;
            END IF;
        \(body)
            IF joined THEN
                EXECUTE format('REVOKE agentos_auditor FROM %I', current_user);
            END IF;
        END;
        $$;
        """
    }
}
