extension MigrationSQL {
    /// V9 (issue 20 item 7, D62): previews are audited (phase `preview`: what an action would
    /// touch, nothing ran), and their System Logs line reads "preview" (a refused one "preview
    /// denied"), at info level. The line's format stays `OperatorLogLine`'s.
    static let auditPreview = """
        ALTER TABLE audit_logs DROP CONSTRAINT IF EXISTS audit_logs_phase_check;
        ALTER TABLE audit_logs ADD CONSTRAINT audit_logs_phase_check CHECK (phase IN ('intent','outcome','denied','preview'));

        CREATE OR REPLACE FUNCTION audit_logs_to_logs() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
        DECLARE
            outcome text := CASE
                WHEN NEW.phase = 'preview' AND coalesce(NEW.outcome, 'preview') <> 'preview' THEN 'preview ' || NEW.outcome
                ELSE coalesce(NEW.outcome, NEW.phase) END;
            detail text := coalesce(NEW.result->>'message', NEW.result->>'error', '');
        BEGIN
            INSERT INTO logs (ts, level, source, message)
            VALUES (
                NEW.timestamp,
                CASE WHEN outcome IN ('success', 'replayed', 'preview') THEN 'info' ELSE 'warning' END,
                'audit',
                concat_ws(' — ', format('%s: %s %s %s', NEW.user_id, NEW.action, coalesce(NEW.target, 'system'), outcome), nullif(detail, '')));
            RETURN NULL;
        END;
        $$;
        """
}
