import Foundation
import Testing

/// Drives the real `agentos` binary in a private tmux server: send-keys in, capture-pane out, and
/// the program's pid and exit status from the pane (it runs with `exec`, so the pane's pid is the program's).
final class TmuxSession {
    let socket: String
    let name = "e2e"
    /// The program's pid (`#{pane_pid}`: `exec` leaves no shell in between).
    let pid: pid_t
    private let configPath: String

    static var binary: String {
        // The `agentos` built beside this test bundle (any --scratch-path), else AGENTOS_BINARY, else .build/debug/agentos.
        if let explicit = ProcessInfo.processInfo.environment["AGENTOS_BINARY"], !explicit.isEmpty { return explicit }
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        for dir in [runner.deletingLastPathComponent(), runner.deletingLastPathComponent().deletingLastPathComponent()] {
            let candidate = dir.appendingPathComponent("agentos").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        // Tests/ConsoleE2ETests/Tmux.swift → repo root → .build/debug/agentos (built by `swift build --build-tests`).
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/agentos").path
    }

    /// Starts `command` (a shell command line: `VAR=value … program args`) in a new pane.
    init(command: String, width: Int = 100, height: Int = 30) throws {
        socket = "agentos-e2e-\(UUID().uuidString.prefix(8))"
        configPath = NSTemporaryDirectory() + "\(socket).conf"
        // Set before the session exists, so a pane that ends at once still keeps its last screen and exit status.
        try "set -g remain-on-exit on\n".write(toFile: configPath, atomically: true, encoding: .utf8)
        // `exec`: the pane's process is the program itself. The tmux server started here inherits the
        // client's descriptors: no pipe, or reading it never ends.
        try Self.run(
            [
                "-L", socket, "-f", configPath, "-u", "new-session", "-d", "-s", name, "-x", String(width), "-y", String(height),
                "exec env LANG=C.UTF-8 TERM=xterm-256color \(command)"
            ], captureOutput: false)
        let text = try Self.run(["-L", socket, "display-message", "-p", "-t", name, "#{pane_pid}"]).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let pid = pid_t(text), pid > 0 else { throw TmuxError(args: ["display-message", "#{pane_pid}"], status: 0, output: text) }
        self.pid = pid
    }

    deinit {
        _ = try? Self.run(["-L", socket, "kill-server"], captureOutput: false)
        unlink(configPath)
    }

    /// Runs tmux with posix_spawn and waitpid (Foundation.Process can hang reaping a client whose
    /// server daemonises). Output, when wanted, goes through a temporary file.
    @discardableResult
    static func run(_ args: [String], captureOutput: Bool = true) throws -> String {
        let outPath = NSTemporaryDirectory() + "tmux-out-\(UUID().uuidString)"
        defer { unlink(outPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, captureOutput ? outPath : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv = (["tmux"] + args).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        // Test threads block SIGWINCH; the tmux server (and the console under it) must not inherit that.
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK))
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, "tmux", &actions, &attr, argv, environ)
        guard rc == 0 else { throw TmuxError(args: args, status: rc, output: "posix_spawnp failed") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exited = (status & 0x7f) == 0
        let code = (status >> 8) & 0xff
        guard exited && code == 0 else { throw TmuxError(args: args, status: exited ? code : -1, output: "") }
        guard captureOutput else { return "" }
        guard let data = FileManager.default.contents(atPath: outPath) else { throw TmuxError(args: args, status: 0, output: "no output file") }
        return String(decoding: data, as: UTF8.self)
    }

    struct TmuxError: Error, CustomStringConvertible {
        let args: [String], status: Int32, output: String
        var description: String { "tmux \(args.joined(separator: " ")) failed (status \(status)) \(output)" }
    }

    /// A wait that ran out: the issue (with the last capture) is already recorded.
    struct Timeout: Error, CustomStringConvertible {
        let what: String
        var description: String { "timed out waiting for \(what)" }
    }

    func send(_ keys: String...) throws {
        try Self.run(["-L", socket, "send-keys", "-t", name] + keys, captureOutput: false)
    }

    /// Types text literally.
    func type(_ text: String) throws {
        try Self.run(["-L", socket, "send-keys", "-t", name, "-l", text], captureOutput: false)
    }

    func capture() throws -> String {
        try Self.run(["-L", socket, "capture-pane", "-p", "-t", name])
    }

    /// The screen with the lines scrolled above it (what a program printed after its full-screen UI).
    func captureWithHistory() throws -> String {
        try Self.run(["-L", socket, "capture-pane", "-p", "-S", "-", "-t", name])
    }

    func resize(width: Int, height: Int) throws {
        try Self.run(["-L", socket, "resize-window", "-t", name, "-x", String(width), "-y", String(height)], captureOutput: false)
    }

    /// A tmux format (`#{…}`) of the pane.
    func format(_ format: String) throws -> String {
        try Self.run(["-L", socket, "display-message", "-p", "-t", name, format]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// nil while the program runs; once it ended, its exit status (128 + n when signal n killed it, as a shell says).
    func exitStatus() throws -> Int32? {
        let fields = try format("#{pane_dead}:#{pane_dead_status}:#{pane_dead_signal}").split(separator: ":", omittingEmptySubsequences: false)
        if fields.count == 3, fields[0] == "1" {
            if let code = Int32(fields[1]) { return code }
            if let signal = Int32(fields[2]) { return 128 + signal }
        }
        return Self.zombieStatus(pid)
    }

    /// Each thread's state and kernel wait channel, for the message of a process that does not end.
    static func threads(_ pid: pid_t) -> String {
        let dir = "/proc/\(pid)/task"
        let tids = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        let states = tids.sorted().map { tid -> String in
            let stat = (try? String(contentsOfFile: "\(dir)/\(tid)/stat", encoding: .utf8)) ?? ""
            let state = stat.lastIndex(of: ")").map { String(stat[stat.index($0, offsetBy: 2)]) } ?? "?"
            let wchan = (try? String(contentsOfFile: "\(dir)/\(tid)/wchan", encoding: .utf8)) ?? "?"
            return "\(tid) \(state) \(wchan)"
        }
        return "threads: " + states.joined(separator: ", ")
    }

    /// The exit status the kernel keeps for an ended process its parent has not reaped (state Z, field 52
    /// of /proc/PID/stat, in waitpid's form); nil while it runs. tmux 3.3a started from the test runner
    /// sometimes leaves its pane's ended program unreaped for good (seen: SIGCHLD caught, never handled).
    static func zombieStatus(_ pid: pid_t) -> Int32? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(whereSeparator: \.isWhitespace)
        // fields[0] is field 3 (the state); field 52 is fields[49].
        guard fields.count > 49, fields[0] == "Z", let status = Int32(fields[49]) else { return nil }
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// Waits for the program to end and returns its exit status; records an issue (with the screen) and throws if it does not.
    @discardableResult
    func waitForExit(_ seconds: Double = 30, sourceLocation: SourceLocation = #_sourceLocation) throws -> Int32 {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            if let status = try exitStatus() { return status }
            if Date() >= deadline {
                let what = "pid \(pid) to exit"
                Issue.record(
                    "\(what): still running after \(Int(seconds)) s (\(Self.threads(pid))); its screen:\n\(try capture())",
                    sourceLocation: sourceLocation)
                throw Timeout(what: what)
            }
            usleep(100_000)
        }
    }

    /// Polls the screen until `unmet` returns nil for a capture and returns that capture. On timeout,
    /// records an issue with what was unmet and the last capture, and throws.
    private func poll(_ seconds: Double, _ what: String, _ sourceLocation: SourceLocation, _ unmet: (String) -> String?) throws -> String {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let screen = try capture()
            guard let reason = unmet(screen) else { return screen }
            if Date() >= deadline {
                Issue.record(
                    "screen never showed \(what) in \(Int(seconds)) s (\(reason)); the last capture:\n\(screen)", sourceLocation: sourceLocation)
                throw Timeout(what: what)
            }
            usleep(100_000)
        }
    }

    /// Waits until one capture satisfies `condition` and returns that capture: everything the caller
    /// asserts about the screen belongs in `condition`.
    @discardableResult
    func waitFor(
        _ what: String, seconds: Double = 30, sourceLocation: SourceLocation = #_sourceLocation,
        _ condition: (String) -> Bool
    ) throws -> String {
        try poll(seconds, what, sourceLocation) { condition($0) ? nil : "condition false" }
    }

    /// Waits until one capture contains every one of `texts` and none of `absent`; returns that capture.
    /// A timeout names what was missing (or present) in the last capture.
    @discardableResult
    func waitFor(
        _ texts: String..., absent: [String] = [], seconds: Double = 30,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> String {
        let what =
            texts.map { "'\($0)'" }.joined(separator: " and ")
            + (absent.isEmpty ? "" : " without " + absent.map { "'\($0)'" }.joined(separator: ", "))
        return try poll(seconds, what, sourceLocation) { screen in
            let missing = texts.filter { !screen.contains($0) }
            let present = absent.filter { screen.contains($0) }
            if missing.isEmpty && present.isEmpty { return nil }
            return (missing.isEmpty ? "" : "missing \(missing)") + (present.isEmpty ? "" : " present \(present)")
        }
    }
}

/// Polls `condition` until it holds; records an issue and throws if it does not within `seconds`.
func waitUntil(
    _ what: String, seconds: Double = 30, sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () throws -> Bool
) throws {
    let deadline = Date().addingTimeInterval(seconds)
    while try !condition() {
        if Date() >= deadline {
            Issue.record("never saw \(what) in \(Int(seconds)) s", sourceLocation: sourceLocation)
            throw TmuxSession.Timeout(what: what)
        }
        usleep(50_000)
    }
}

/// Waits until the file at `path` satisfies `condition` and returns its bytes.
@discardableResult
func waitForFile(
    _ path: String, _ what: String, seconds: Double = 30, sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: (Data) -> Bool
) throws -> Data {
    var data = Data()
    try waitUntil("\(path) holding \(what)", seconds: seconds, sourceLocation: sourceLocation) {
        data = FileManager.default.contents(atPath: path) ?? Data()
        return condition(data)
    }
    return data
}

/// The bytes ncurses writes last when the console leaves the screen (xterm's rmcup): a pty log that
/// holds them holds everything the console wrote before.
let leftAlternateScreen = Array("\u{1b}[?1049l".utf8)

extension Data {
    func contains(bytes needle: [UInt8]) -> Bool { range(of: Data(needle)) != nil }
}
