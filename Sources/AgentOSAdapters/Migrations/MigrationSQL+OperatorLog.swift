extension MigrationSQL {
    /// V8 (issue 19 item 5): every audited outcome or denial also becomes a System Logs line
    /// (source `audit`), written by the server, so the operator's actions, from any console or
    /// tool, read in order with the fleet's own lines. The format is `OperatorLogLine`'s.
    /// SECURITY DEFINER: a role that may only insert audit rows still leaves its line.
    static let operatorLog = """
        CREATE OR REPLACE FUNCTION audit_logs_to_logs() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
        DECLARE
            outcome text := coalesce(NEW.outcome, NEW.phase);
            detail text := coalesce(NEW.result->>'message', NEW.result->>'error', '');
        BEGIN
            INSERT INTO logs (ts, level, source, message)
            VALUES (
                NEW.timestamp,
                CASE WHEN outcome IN ('success', 'replayed') THEN 'info' ELSE 'warning' END,
                'audit',
                concat_ws(' — ', format('%s: %s %s %s', NEW.user_id, NEW.action, coalesce(NEW.target, 'system'), outcome), nullif(detail, '')));
            RETURN NULL;
        END;
        $$;

        DROP TRIGGER IF EXISTS audit_logs_to_logs ON audit_logs;
        CREATE TRIGGER audit_logs_to_logs AFTER INSERT ON audit_logs
            FOR EACH ROW WHEN (NEW.phase <> 'intent') EXECUTE FUNCTION audit_logs_to_logs();
        """
}
