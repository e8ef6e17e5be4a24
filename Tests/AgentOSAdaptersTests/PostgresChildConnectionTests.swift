import Foundation
import Testing

@testable import AgentOSAdapters

/// pg_dump's connection: the password never in the string its argv carries, only in a 0600 passfile.
@Suite struct PostgresChildConnectionTests {
    static let password = "s3cr:et\\'x y"

    @Test(arguments: [
        "postgresql://ops:\(password.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)@db1:5432,db2:5433/agentos?sslmode=prefer&pooler=transaction",
        "host=db1,db2 port=5432,5433 user=ops dbname=agentos password='s3cr:et\\\\\\'x y' sslmode=prefer read_from=standby",
        "postgresql://ops@db1:5432,db2:5433/agentos?password=\(password.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)&sslmode=prefer"
    ])
    func thePasswordGoesToAPassfileOnly(_ text: String) throws {
        let child = try PostgresChildConnection(text, environment: ["PGPASSWORD": "old", "PATH": "/bin"])
        defer { child.remove() }
        #expect(!child.conninfo.contains("s3cr") && !child.conninfo.contains("password"), "\(child.conninfo)")
        #expect(!child.conninfo.contains("pooler") && !child.conninfo.contains("read_from"))
        // The rest of the string as libpq reads it, unchanged.
        let options = try PostgresTarget.parse(child.conninfo)
        #expect(options["host"] == "db1,db2" && options["port"] == "5432,5433" && options["user"] == "ops" && options["dbname"] == "agentos")
        #expect(options["sslmode"] == "prefer")
        // The environment: no PGPASSWORD (it would win over the passfile), the rest kept.
        #expect(child.environment["PGPASSWORD"] == nil && child.environment["PATH"] == "/bin")
        let passfile = try #require(child.environment["PGPASSFILE"])
        let attributes = try FileManager.default.attributesOfItem(atPath: passfile)
        #expect(attributes[.posixPermissions] as? Int == 0o600)
        let directory = (passfile as NSString).deletingLastPathComponent
        #expect(try FileManager.default.attributesOfItem(atPath: directory)[.posixPermissions] as? Int == 0o700)
        // libpq's passfile syntax: `:` and `\` escaped.
        #expect(try String(contentsOfFile: passfile, encoding: .utf8) == "*:*:*:*:s3cr\\:et\\\\'x y\n")
        child.remove()
        #expect(!FileManager.default.fileExists(atPath: directory))
    }

    /// No password in the string: no passfile, and the child finds one where the console would.
    @Test func withoutAPasswordTheEnvironmentStays() throws {
        let child = try PostgresChildConnection("postgresql://ops@db/agentos", environment: ["PGPASSWORD": "from-env"])
        #expect(child.environment == ["PGPASSWORD": "from-env"])
        #expect(child.conninfo == "dbname='agentos' host='db' user='ops'")
    }
}
