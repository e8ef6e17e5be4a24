import AgentOSAdapters
import ArgumentParser
import Foundation

/// `agentos check`: connects to the configured backends and reports what it finds.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the connections to Redis and PostgreSQL, the schema version and, with --celery, the Celery workers."
    )

    @OptionGroup var connection: ConnectionOptions

    @OptionGroup var celery: CeleryOption

    func run() throws {
        var failures = 0
        let connected = try connection.resolve(celery: celery)
        if let url = connected.redisURL {
            do {
                let client = try RedisClient(url: url)
                let start = Monotonic.nanos()
                let pong = try client.send("PING")
                let micros = (Monotonic.nanos() - start) / 1_000
                let info = try client.send("INFO", "server").string ?? ""
                let version = info.split(separator: "\r\n").first { $0.hasPrefix("redis_version:") }?.dropFirst(14) ?? "?"
                // Behind Sentinel: the master the sentinels name (the connection checked it with ROLE).
                let master = try client.sentinel.map { ", master \(try $0.current().address) named by the sentinels" } ?? ""
                print("redis     ok   \(client.configuration) \(pong.string ?? "") in \(micros) µs, redis \(version)\(master)")
            } catch {
                failures += 1
                print("redis     FAIL \(error)")
            }
        } else {
            print("redis     -    not configured (--redis, AGENTOS_REDIS_URL or the configuration file)")
        }
        if let url = connected.postgresURL {
            do {
                let db = try PostgresConnection(url)
                let version = try db.query("SHOW server_version")[0].get(0, as: String.self)
                let pending = try Migrator().pending(db)
                let schema = pending.isEmpty ? "schema current" : "\(pending.count) migrations pending (run agentos migrate)"
                print("postgres  ok   \(db.target) PostgreSQL \(version), \(schema), \(try Self.role(db)) \(db.server)\(Self.readHost(url))")
            } catch {
                failures += 1
                print("postgres  FAIL \(error)")
            }
        } else {
            print("postgres  -    not configured (--postgres, AGENTOS_POSTGRES_URL or the configuration file)")
        }
        if let transport = try connected.celery() {
            if let url = connected.redisURL {
                do {
                    // One ping to every worker; it ends when each worker that got it answered.
                    let b = try CeleryControl(redis: try RedisClient(url: url), transport: transport).broadcast("ping")
                    let names = b.replies.map(\.hostname).joined(separator: ", ")
                    print(
                        String(
                            format: "celery    %@ %d of %d worker(s) on %@ answered ping in %.1f ms%@", b.allReplied ? "ok  " : "FAIL",
                            b.replies.count,
                            b.listeners, transport.pidboxChannel, b.elapsedSeconds * 1_000, names.isEmpty ? "" : ": " + names))
                    if !b.allReplied { failures += 1 }
                } catch {
                    failures += 1
                    print("celery    FAIL \(error)")
                }
            } else {
                print("celery    -    needs --redis (the broker's server)")
            }
        }
        if failures > 0 { throw ExitCode(ExitStatus.unavailable) }
    }

    /// "primary" or "standby": what the connection reached.
    static func role(_ db: PostgresConnection) throws -> String {
        try db.query("SELECT pg_is_in_recovery() AS standby")[0].get("standby", as: Bool.self) ? "standby" : "primary"
    }

    /// With several hosts: where reads that may lag go (the read pool's `prefer-standby`).
    static func readHost(_ url: String) -> String {
        guard (try? PostgresTarget(url).hostCount) ?? 1 > 1 else { return "" }
        guard let reads = try? PostgresConnection(url, targetSessionAttrs: "prefer-standby"), let role = try? role(reads) else {
            return ", reads: no host answered"
        }
        return ", reads from \(role) \(reads.server)"
    }
}
