extension MigrationSQL {
    /// V6 (issue 10): the console's action figures and the metrics exporter read audit rows by
    /// time (the last 5 minutes) and action_history incrementally by id.
    static let observability = """
        CREATE INDEX IF NOT EXISTS audit_logs_ts_idx ON audit_logs (timestamp DESC);
        """
}
