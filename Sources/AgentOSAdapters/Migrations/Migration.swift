import AgentOSCrypto
import Foundation

/// One versioned schema change. The SQL runs in one transaction together with its
/// `schema_migrations` row; the checksum catches a migration edited after it was applied.
public struct Migration: Sendable {
    public let version: Int
    public let name: String
    public let sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    public var checksum: String { Hex.encode(Digest.sha256(sql)) }
}

/// Applies the migrations that are not yet applied, in order, under an advisory lock so that
/// several consoles starting at once apply each one exactly once.
public struct Migrator: Sendable {
    /// Every migration the console knows, oldest first.
    public static let all: [Migration] = [
        Migration(version: 1, name: "agentos_tables", sql: MigrationSQL.agentOSTables),
        Migration(version: 2, name: "console_tables", sql: MigrationSQL.consoleTables),
        Migration(version: 3, name: "audit_append_only", sql: MigrationSQL.auditAppendOnly),
        Migration(version: 4, name: "job_counts", sql: MigrationSQL.jobCounts),
        Migration(version: 5, name: "action_tables", sql: MigrationSQL.actionTables),
        Migration(version: 6, name: "observability", sql: MigrationSQL.observability),
        Migration(version: 7, name: "alert_grouping", sql: MigrationSQL.alertGrouping),
        Migration(version: 8, name: "operator_log", sql: MigrationSQL.operatorLog),
        Migration(version: 9, name: "audit_preview", sql: MigrationSQL.auditPreview),
        Migration(version: 10, name: "audit_received", sql: MigrationSQL.auditReceived),
        Migration(version: 11, name: "owner_grants", sql: MigrationSQL.ownerGrants),
        Migration(version: 12, name: "enforced_roles", sql: MigrationSQL.enforcedRoles),
        Migration(version: 13, name: "audit_keyed", sql: MigrationSQL.auditKeyed),
        Migration(version: 14, name: "fast_gates", sql: MigrationSQL.fastGates),
        Migration(version: 15, name: "planned_by_index", sql: MigrationSQL.plannedByIndex),
        Migration(version: 16, name: "audit_api_for_the_migrating_login", sql: MigrationSQL.auditAPIForTheMigratingLogin),
        Migration(version: 17, name: "first_bad_mac_without_join", sql: MigrationSQL.firstBadMacWithoutJoin)
    ]

    public struct Applied: Sendable, Equatable {
        public let version: Int
        public let name: String
    }

    public enum Failure: Error, CustomStringConvertible {
        case checksumMismatch(version: Int, name: String)
        case unknownVersion(Int)

        public var description: String {
            switch self {
            case .checksumMismatch(let v, let n):
                return "migration \(v) (\(n)) was changed after it was applied: its checksum differs from schema_migrations"
            case .unknownVersion(let v):
                return "the database has migration \(v), which this console does not know: upgrade the console"
            }
        }
    }

    /// Advisory lock key: the first 8 bytes of SHA-256("agentos.migrations").
    static let lockKey: Int64 = {
        let d = Digest.sha256("agentos.migrations")
        return d.prefix(8).reduce(Int64(0)) { $0 << 8 | Int64($1) }
    }()

    public let migrations: [Migration]

    public init(migrations: [Migration] = Migrator.all) {
        self.migrations = migrations.sorted { $0.version < $1.version }
    }

    /// Versions already recorded in the database (empty if the table does not exist yet).
    public func appliedVersions(_ db: PostgresConnection) throws -> [Int: String] {
        let exists = try db.query("SELECT to_regclass('schema_migrations') IS NOT NULL AS present")
        guard try exists[0].get("present", as: Bool.self) else { return [:] }
        var applied: [Int: String] = [:]
        for row in try db.query("SELECT version, checksum FROM schema_migrations") {
            applied[try row.get("version")] = try row.get("checksum", as: String.self)
        }
        return applied
    }

    /// Applies what is pending and returns it (empty when the schema is current).
    /// The advisory lock serialises migrations of one database only: two databases of one cluster
    /// migrated at once can both try to create the cluster-wide `agentos_console` role, and the
    /// loser's transaction fails with 23505. It rolled back whole, and the role now exists, so it is
    /// run again (a few times, for more than two at once).
    @discardableResult
    public func migrate(_ db: PostgresConnection) throws -> [Applied] {
        var attempt = 1
        while true {
            do {
                return try migrateOnce(db)
            } catch let error as PostgresError where error.isUniqueViolation && attempt < 5 {
                attempt += 1
                usleep(50_000)
            }
        }
    }

    private func migrateOnce(_ db: PostgresConnection) throws -> [Applied] {
        try db.transaction { tx in
            try tx.query("SELECT pg_advisory_xact_lock($1)", [Self.lockKey])
            try tx.execute(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version     integer PRIMARY KEY,
                    name        text NOT NULL,
                    checksum    text NOT NULL,
                    applied_at  timestamptz NOT NULL DEFAULT now()
                )
                """)
            let applied = try appliedVersions(tx)
            let known = Set(migrations.map(\.version))
            if let unknown = applied.keys.sorted().first(where: { !known.contains($0) }) {
                throw Failure.unknownVersion(unknown)
            }
            var done: [Applied] = []
            for m in migrations {
                if let checksum = applied[m.version] {
                    guard checksum == m.checksum else { throw Failure.checksumMismatch(version: m.version, name: m.name) }
                    continue
                }
                try tx.execute(m.sql)
                try tx.query(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    [m.version, m.name, m.checksum])
                done.append(Applied(version: m.version, name: m.name))
            }
            try PolicySync.write(tx)
            return done
        }
    }

    /// Migrations not yet applied.
    public func pending(_ db: PostgresConnection) throws -> [Migration] {
        let applied = try appliedVersions(db)
        return migrations.filter { applied[$0.version] == nil }
    }
}
