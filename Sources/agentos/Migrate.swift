import AgentOSAdapters
import ArgumentParser

struct Migrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply pending PostgreSQL schema migrations (idempotent).",
        discussion: "Safe to run from several consoles at once: an advisory lock makes each migration apply exactly once."
    )

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var celery: CeleryOption

    @Flag(help: "List the migrations and whether they are applied, without applying anything.")
    var status = false

    func run() throws {
        try celery.refuse(in: "migrate", "it changes PostgreSQL's schema only; Celery keeps no state there")
        guard let url = try connection.resolve().postgresURL else {
            throw fail("migrate needs --postgres URL (or AGENTOS_POSTGRES_URL, or the configuration file)", code: ExitStatus.usage)
        }
        let db: PostgresConnection
        do { db = try PostgresConnection(url) } catch { throw fail(error.description, code: ExitStatus.unavailable) }
        let migrator = Migrator()
        do {
            if status {
                let pending = Set(try migrator.pending(db).map(\.version))
                for m in migrator.migrations {
                    print("\(m.version)\t\(m.name)\t\(pending.contains(m.version) ? "pending" : "applied")")
                }
                return
            }
            let applied = try migrator.migrate(db)
            if applied.isEmpty {
                print("schema is current (\(migrator.migrations.count) migrations applied)")
            } else {
                for m in applied { print("applied \(m.version) \(m.name)") }
            }
        } catch {
            throw fail("migration failed: \(error)", code: ExitStatus.software)
        }
    }
}
