import AgentOSAdapters
import Foundation
import Testing

/// A database of the test's own on the test PostgreSQL server (named `prefix` + a random suffix);
/// `drop()` removes it, whoever is still connected.
struct ScratchDatabase {
    let url: String
    private let admin: PostgresConnection
    private let name: String

    init(baseURL: String, prefix: String) throws {
        name = "\(prefix)_\(UUID().uuidString.prefix(8).lowercased())"
        admin = try PostgresConnection(baseURL)
        try admin.execute("CREATE DATABASE \(name)")
        var comps = URLComponents(string: baseURL)!
        comps.path = "/\(name)"
        url = comps.string!
    }

    func drop() { _ = try? admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }

    /// `agentos migrate` on it, before any program starts on the database.
    func migrate(sourceLocation: SourceLocation = #_sourceLocation) throws {
        let migrated = try Spawned.run([TmuxSession.binary, "migrate", "--postgres", url])
        #expect(migrated.status == 0, "migrate: \(migrated.stderr)", sourceLocation: sourceLocation)
    }
}

/// What a live end-to-end test points the binary at: the test redis, a scratch database and a
/// namespace of its own (also the broker prefix). nil, with the issue recorded, outside scripts/test.sh.
struct LiveScratch {
    let redisURL: String
    let database: ScratchDatabase
    let namespace: String

    var postgresURL: String { database.url }
    /// `--redis … --postgres … --namespace … --broker-prefix …` for `agentos sim` and `agentos console`.
    var arguments: String { "--redis \(redisURL) --postgres \(database.url) --namespace \(namespace) --broker-prefix \(namespace):" }

    static func make(_ prefix: String) throws -> LiveScratch? {
        let env = ProcessInfo.processInfo.environment
        guard let redisURL = env["AGENTOS_TEST_REDIS_URL"], let baseURL = env["AGENTOS_TEST_POSTGRES_URL"] else {
            Issue.record("AGENTOS_TEST_REDIS_URL / AGENTOS_TEST_POSTGRES_URL are not set: run through scripts/test.sh")
            return nil
        }
        let database = try ScratchDatabase(baseURL: baseURL, prefix: prefix)
        try database.migrate()
        return LiveScratch(redisURL: redisURL, database: database, namespace: "\(prefix)\(UUID().uuidString.prefix(6).lowercased())")
    }
}
