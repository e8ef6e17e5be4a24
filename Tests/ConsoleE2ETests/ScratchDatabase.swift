import AgentOSAdapters
import Foundation

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
}
