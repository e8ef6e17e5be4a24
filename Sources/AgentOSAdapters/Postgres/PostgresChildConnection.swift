import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// How a child program (`pg_dump`) gets a connection string without the password ever reaching its
/// argv, where any local user reads it in `/proc/PID/cmdline`: the string is rebuilt without
/// `password`, and the password goes into a 0600 passfile (`PGPASSFILE`) in a 0700 directory of its
/// own, removed when the child is done. libpq reads a passfile only when the string and `PGPASSWORD`
/// give no password, so the child's `PGPASSWORD` is dropped.
public struct PostgresChildConnection {
    /// The connection string for the child's argv: key/value pairs, no password.
    public let conninfo: String
    /// The child's whole environment.
    public let environment: [String: String]
    private let directory: URL?

    /// Runs `body` with the child's connection and removes the passfile afterwards, whatever happens.
    public static func with<R>(_ text: String, _ body: (PostgresChildConnection) throws -> R) throws -> R {
        let child = try PostgresChildConnection(text)
        defer { child.remove() }
        return try body(child)
    }

    init(_ text: String, environment base: [String: String] = ProcessInfo.processInfo.environment) throws {
        var options = try PostgresTarget.parse(PostgresTarget(text).conninfo)
        let password = options.removeValue(forKey: "password")
        var env = base
        guard let password else {
            // No password in the string: the child finds one where the console would (PGPASSWORD, ~/.pgpass).
            conninfo = Self.keyValue(options)
            environment = env
            directory = nil
            return
        }
        guard !password.contains("\n") else {
            throw PostgresError(kind: .client, message: "a password holding a newline cannot be handed to pg_dump (its password file is one line)")
        }
        options["passfile"] = nil // ours wins: the string's own would be read first
        conninfo = Self.keyValue(options)
        env["PGPASSWORD"] = nil
        var template = Array((FileManager.default.temporaryDirectory.path + "/agentos-pgpass-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw PostgresError(kind: .client, message: "cannot make a directory for pg_dump's password file: \(String(cString: strerror(errno)))")
        }
        let dir = URL(fileURLWithPath: String(cString: made))
        let file = dir.appendingPathComponent("pgpass")
        // Every host, port, database and user: the string already says which.
        let line = "*:*:*:*:" + password.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: ":", with: "\\:") + "\n"
        let fd = open(file.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        let written = fd >= 0 && line.utf8CString.dropLast().withUnsafeBytes { write(fd, $0.baseAddress, $0.count) == $0.count }
        if fd >= 0 { close(fd) }
        guard written else {
            try? FileManager.default.removeItem(at: dir)
            throw PostgresError(kind: .client, message: "cannot write pg_dump's password file in \(dir.path)")
        }
        env["PGPASSFILE"] = file.path
        environment = env
        directory = dir
    }

    static func keyValue(_ options: [String: String]) -> String {
        options.keys.sorted().map { "\($0)='\(quoted(options[$0]!))'" }.joined(separator: " ")
    }

    /// A value inside single quotes, as libpq's key/value syntax reads it.
    static func quoted(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'")
    }

    func remove() {
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }
}
