import AgentOSAdapters
import AgentOSCore
import ArgumentParser
import Foundation

/// `agentos sessions`: the consoles running on a live backend (Redis DB6), as System Controls'
/// Sessions pane lists them; `agentos action system.session_terminate session=ID` ends one.
struct SessionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sessions",
        abstract: "List the console sessions of a live backend (who, where, since when).",
        discussion: """
            Reads the session rows every running console renews in Redis DB6 (a console that died leaves
            the list within \(ConsoleSessionStore.ttlSeconds) s). End one with
            `agentos action system.session_terminate session=ID --reason "…"`.
            """
    )

    @Flag(help: "Print the sessions as a JSON array.")
    var json = false

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var celery: CeleryOption

    func run() throws {
        try celery.refuse(in: "sessions", "console sessions are the consoles' own, the same with or without Celery")
        let connected = try connection.resolve()
        guard let redisURL = connected.redisURL else {
            throw fail("sessions live in Redis: give --redis (or AGENTOS_REDIS_URL)", code: ExitStatus.usage)
        }
        let sessions: [ConsoleSession]
        do {
            sessions = try ConsoleSessionStore(redis: try RedisClient(url: redisURL), namespace: connected.names).list()
        } catch let error as RedisError {
            throw fail(error.description, code: ExitStatus.unavailable)
        }
        if json {
            let encoder = AgentJSON.encoder()
            encoder.outputFormatting.insert(.sortedKeys)
            FileHandle.standardOutput.write(try encoder.encode(sessions))
            print()
            return
        }
        print(Self.table(sessions, now: Date()))
    }

    static func table(_ sessions: [ConsoleSession], now: Date) -> String {
        guard !sessions.isEmpty else { return "no console sessions" }
        let header = ["SESSION", "OPERATOR", "HOST", "TTY", "PID", "MODE", "VIEW", "STARTED", "LAST SEEN"]
        let rows = sessions.map { s in
            [
                s.id, s.user, s.host, s.tty.isEmpty ? "-" : s.tty, String(s.pid), s.mode, s.view.isEmpty ? "-" : s.view, ISOTime.format(s.startedAt),
                "\(Int(max(0, now.timeIntervalSince(s.lastSeen)))) s ago"
            ].map { TextSanitizer.clean($0) }
        }
        let widths = header.indices.map { i in ([header[i]] + rows.map { $0[i] }).map(\.count).max() ?? 0 }
        return ([header] + rows).map { row in
            row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
