extension MigrationSQL {
    /// V10 (issue 18 item 5): the console a `system.session_terminate` ended writes its own row
    /// (phase `received`, the terminating request's id), so the trail holds both sides.
    static let auditReceived = """
        ALTER TABLE audit_logs DROP CONSTRAINT IF EXISTS audit_logs_phase_check;
        ALTER TABLE audit_logs ADD CONSTRAINT audit_logs_phase_check
            CHECK (phase IN ('intent','outcome','denied','preview','received'));
        """
}
