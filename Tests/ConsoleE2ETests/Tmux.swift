import Foundation
import Testing

/// Drives the real `agentos` binary in a private tmux server: send-keys in, capture-pane out.
final class TmuxSession {
    let socket: String
    let name = "e2e"

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

    init(command: String, width: Int = 100, height: Int = 30) throws {
        socket = "agentos-e2e-\(UUID().uuidString.prefix(8))"
        // The tmux server started here inherits the client's descriptors: no pipe, or reading it never ends.
        try Self.run(["-L", socket, "-u", "new-session", "-d", "-s", name, "-x", String(width), "-y", String(height),
                      "env LANG=C.UTF-8 TERM=xterm-256color \(command); sleep 2"], captureOutput: false)
        // Keep the pane after exit so the last screen can be read.
    }

    deinit { _ = try? Self.run(["-L", socket, "kill-server"], captureOutput: false) }

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
        guard rc == 0 else { throw TmuxError(args: args, status: rc) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exited = (status & 0x7f) == 0
        let code = (status >> 8) & 0xff
        guard exited && code == 0 else { throw TmuxError(args: args, status: code) }
        guard captureOutput, let data = FileManager.default.contents(atPath: outPath) else { return "" }
        return String(decoding: data, as: UTF8.self)
    }

    struct TmuxError: Error { let args: [String]; let status: Int32 }

    func send(_ keys: String...) throws {
        try Self.run(["-L", socket, "send-keys", "-t", name] + keys, captureOutput: false)
    }

    /// Types text literally.
    func type(_ text: String) throws {
        try Self.run(["-L", socket, "send-keys", "-t", name, "-l", text], captureOutput: false)
    }

    func capture() -> String {
        (try? Self.run(["-L", socket, "capture-pane", "-p", "-t", name])) ?? ""
    }

    func resize(width: Int, height: Int) throws {
        try Self.run(["-L", socket, "resize-window", "-t", name, "-x", String(width), "-y", String(height)], captureOutput: false)
    }

    var isAlive: Bool {
        let panes = (try? Self.run(["-L", socket, "list-panes", "-t", name, "-F", "#{pane_current_command}"])) ?? ""
        return panes.contains("agentos")
    }

    /// Waits until the screen satisfies `condition`; returns the last capture either way.
    @discardableResult
    func waitFor(_ seconds: Double = 10, _ what: String, sourceLocation: SourceLocation = #_sourceLocation,
                 _ condition: (String) -> Bool) -> String {
        let deadline = Date().addingTimeInterval(seconds)
        var screen = capture()
        while !condition(screen) && Date() < deadline {
            usleep(100_000)
            screen = capture()
        }
        if !condition(screen) { Issue.record("screen never showed \(what):\n\(screen)", sourceLocation: sourceLocation) }
        return screen
    }

    func waitFor(_ text: String, seconds: Double = 10, sourceLocation: SourceLocation = #_sourceLocation) -> String {
        waitFor(seconds, "'\(text)'", sourceLocation: sourceLocation) { $0.contains(text) }
    }
}
