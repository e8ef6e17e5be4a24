import AgentOSAdapters
import AgentOSCore
import ArgumentParser
import Foundation

/// `agentos operator grant|revoke|list`: operators' own PostgreSQL logins and Redis ACL users
/// (D71). Run by an admin's own login, or by the deployer's (the owner of the AgentOS tables).
struct OperatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "operator",
        abstract: "Provision operators: their own PostgreSQL login and Redis user, with one role (audited).",
        discussion: """
            Each operator connects as themselves; PostgreSQL and Redis enforce the role (readonly, user, supervisor,
            operator, admin), the console mirrors it. Passwords come from a file (never a command line) and are sent
            neither to PostgreSQL (a SCRAM verifier computed here) nor to Redis (its SHA-256); nothing secret is printed.
            """,
        subcommands: [Grant.self, Revoke.self, List.self, Reapply.self]
    )

    /// The admin's connections and name, as the server reports it.
    static func admin(_ connection: ConnectionOptions) throws -> OperatorAdmin {
        let connected = try connection.resolve()
        guard let redisURL = connected.redisURL, let postgresURL = connected.postgresURL else {
            throw fail("operators live in PostgreSQL and Redis: give --postgres and --redis (or their settings)", code: ExitStatus.usage)
        }
        let postgres = PostgresClient(postgresURL)
        let identity: ServerIdentity
        do { identity = try ServerIdentity.read(postgres) } catch { throw fail("PostgreSQL: \(error)", code: ExitStatus.unavailable) }
        guard identity.gated else {
            throw fail("this database has no operators' API yet: run agentos migrate (as the owner of the AgentOS tables)", code: ExitStatus.config)
        }
        let redis: RedisClient
        do { redis = try RedisClient(url: redisURL) } catch { throw fail("--redis: \(error)", code: ExitStatus.config) }
        return OperatorAdmin(postgres: postgres, redis: redis, actor: identity.actor(currentActor()), namespace: connected.names)
    }

    static func run<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as PostgresError where e.sqlState == "42501" {
            throw fail("refused by PostgreSQL: \(e.message)", code: 3)
        } catch let e as PostgresError where e.sqlState == "22023" {
            throw fail(e.message, code: ExitStatus.usage)
        } catch let e as PostgresError {
            throw fail("PostgreSQL: \(e.description)", code: ExitStatus.unavailable)
        } catch let e as RedisError {
            throw fail("Redis: \(e.description)", code: ExitStatus.unavailable)
        }
    }

    struct Grant: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the operator's login and Redis user if missing, and give them exactly this role.")
        @Argument(help: "The operator's login (lower-case letters, digits, _ . -).") var user: String
        @Argument(help: "readonly, user, supervisor, operator or admin.") var role: String
        @Option(
            name: .customLong("password-file"),
            help: ArgumentHelp("A file whose first line is the password (0600). Without it the login keeps its password.", valueName: "file"))
        var passwordFile: String?
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var celery: CeleryOption

        func run() throws {
            try celery.refuse(in: "operator grant", "operators are PostgreSQL logins and Redis users, the same with or without Celery")
            guard let r = Role(rawValue: role) else {
                throw fail("unknown role '\(TextSanitizer.clean(role))' (readonly, user, supervisor, operator, admin)", code: ExitStatus.usage)
            }
            let password = try passwordFile.map { path -> String in
                guard let data = FileManager.default.contents(atPath: path) else {
                    throw fail("--password-file \(path): cannot read it", code: ExitStatus.config)
                }
                let line = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""
                guard !line.isEmpty else { throw fail("--password-file \(path): the first line is empty", code: ExitStatus.config) }
                return line
            }
            let admin = try OperatorCommand.admin(connection)
            let outcome = try OperatorCommand.run { try admin.grant(user, role: r, password: password) }
            print("operator \(user): \(outcome), role \(r.rawValue)\(password == nil ? "" : ", password set") (PostgreSQL login and Redis user)")
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take the operator's role and login away (their running consoles' next action is refused).")
        @Argument(help: "The operator's login.") var user: String
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var celery: CeleryOption

        func run() throws {
            try celery.refuse(in: "operator revoke", "operators are PostgreSQL logins and Redis users, the same with or without Celery")
            let admin = try OperatorCommand.admin(connection)
            guard try OperatorCommand.run({ try admin.revoke(user) }) else {
                throw fail("operator \(TextSanitizer.clean(user)): no such operator (or already revoked)", code: 6)
            }
            print("operator \(user): revoked (PostgreSQL login disabled, Redis user deleted)")
        }
    }

    /// After an upgrade that changed the Redis rules, or when queues were added (D83).
    struct Reapply: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply the current Redis rules to every operator's Redis user (after an upgrade, or new queues).")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var celery: CeleryOption

        func run() throws {
            try celery.refuse(in: "operator reapply", "operators are PostgreSQL logins and Redis users, the same with or without Celery")
            let admin = try OperatorCommand.admin(connection)
            let done = try OperatorCommand.run { try admin.reapplyRedisRules() }
            guard !done.isEmpty else { return print("no operators") }
            for d in done { print("operator \(d.login): \(d.outcome)") }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the operators, their roles and who granted them.")
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var celery: CeleryOption

        func run() throws {
            try celery.refuse(in: "operator list", "operators are PostgreSQL logins and Redis users, the same with or without Celery")
            let admin = try OperatorCommand.admin(connection)
            let entries = try OperatorCommand.run { try admin.list() }
            if json {
                let encoder = AgentJSON.encoder()
                encoder.outputFormatting.insert(.sortedKeys)
                FileHandle.standardOutput.write(try encoder.encode(entries))
                print()
                return
            }
            guard !entries.isEmpty else { return print("no operators") }
            let header = ["LOGIN", "ROLE", "LOGIN?", "GRANTED BY", "GRANTED", "REVOKED"]
            let rows = entries.map { e in
                [
                    e.login, e.role ?? "-", e.canLogin ? "yes" : "no", e.grantedBy, ISOTime.format(e.grantedAt),
                    e.revokedAt.map { ISOTime.format($0) } ?? "-"
                ]
                .map { TextSanitizer.clean($0) }
            }
            let widths = header.indices.map { i in ([header[i]] + rows.map { $0[i] }).map(\.count).max() ?? 0 }
            for row in [header] + rows {
                print(
                    row.enumerated().map { i, c in i == row.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }.joined(
                        separator: "  "))
            }
        }
    }
}
