extension MigrationSQL {
    /// V15 (issue 17, D85): the PL/pgSQL functions that look rows of audit_logs up on every append or
    /// action plan with sequential scans turned off. PL/pgSQL keeps a statement's plan for the
    /// session, made from the statistics of that moment: with audit_logs analyzed while empty
    /// (reltuples 0), the seal's head read (`ORDER BY seq DESC LIMIT 1`) was planned as a scan of the
    /// whole table and a sort, and kept so for a whole transaction (no invalidation reaches a
    /// statement in progress), so 100,000 appends in one statement read the table 100,000 times.
    /// Every lookup of these functions has an index (the primary key, `audit_logs_request_idx`), so
    /// the plan no longer depends on what the statistics said when it was made. JIT off: a table with
    /// no index left (mac_key, one row) keeps its sequential scan at the disabled cost, which would
    /// otherwise cross `jit_above_cost` and compile on every call.
    static let plannedByIndex = """
        DO $$
        DECLARE
            joined boolean := false;
        BEGIN
            -- The seal is the auditor's: the migrating login joins it to alter it, and leaves (as V13).
            IF to_regrole('agentos_auditor') IS NOT NULL AND NOT pg_has_role(current_user, 'agentos_auditor', 'MEMBER') THEN
                EXECUTE format('GRANT agentos_auditor TO %I', current_user);
                joined := true;
            END IF;
            ALTER FUNCTION agentos_audit.seal() SET enable_seqscan = off;
            ALTER FUNCTION agentos_audit.seal() SET jit = off;
            IF joined THEN
                EXECUTE format('REVOKE agentos_auditor FROM %I', current_user);
            END IF;
        END;
        $$;
        ALTER FUNCTION agentos_api.owns_request(uuid) SET enable_seqscan = off;
        ALTER FUNCTION agentos_api.owns_request(uuid) SET jit = off;
        ALTER FUNCTION agentos_api.open_action(uuid, text, text) SET enable_seqscan = off;
        ALTER FUNCTION agentos_api.open_action(uuid, text, text) SET jit = off;
        """
}
