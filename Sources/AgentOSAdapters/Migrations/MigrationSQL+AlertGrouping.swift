extension MigrationSQL {
    /// V7 (issue 19): alerts are keyed by source and kind; a repeat counts on the open alert
    /// (`count`, `last_seen`) instead of adding a row. Rows from before have no kind.
    static let alertGrouping = """
        ALTER TABLE alerts ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT '',
            ADD COLUMN IF NOT EXISTS count integer NOT NULL DEFAULT 1,
            ADD COLUMN IF NOT EXISTS last_seen timestamptz;
        """
}
