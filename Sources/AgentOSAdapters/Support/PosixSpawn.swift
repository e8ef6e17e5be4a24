import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Starting a program with `posix_spawnp` (Foundation's `Process` hangs in some set-ups here, e.g.
/// beside tmux): the caller prepares the file actions and attributes, this passes argv and the
/// environment as C strings.
public enum PosixSpawn {
    public struct Failed: Error, CustomStringConvertible {
        public let description: String
    }

    /// Starts `argv` (found on `PATH` unless it holds a slash) with this process's environment plus
    /// `environment` (or `environment` alone when `replacingEnvironment`); returns its pid.
    public static func spawn(
        _ argv: [String], environment: [String: String] = [:], replacingEnvironment: Bool = false,
        actions: UnsafePointer<posix_spawn_file_actions_t>? = nil,
        attributes: UnsafePointer<posix_spawnattr_t>? = nil
    ) throws(Failed) -> pid_t {
        var env = replacingEnvironment ? [:] : ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        let args = argv.map { strdup($0) } + [nil]
        defer {
            envp.forEach { free($0) }
            args.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, argv[0], actions, attributes, args, envp)
        guard rc == 0 else { throw Failed(description: "cannot start \(argv[0]): \(String(cString: strerror(rc)))") }
        return pid
    }

    /// Starts `argv` in a process group of its own (so a Celery worker's pool dies with it: kill
    /// the negative pid), stdin from /dev/null, stdout and stderr to `output` (truncated), with an
    /// empty signal mask and default dispositions: a test runner blocks or ignores signals the
    /// pool relies on (SIGTERM ends a pool process on revoke-terminate and pool_shrink).
    public static func spawnGroupLeader(_ argv: [String], environment: [String: String], output: String) throws(Failed) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attr, 0)
        var empty = sigset_t()
        var all = sigset_t()
        sigemptyset(&empty)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setsigdefault(&attr, &all)
        return try spawn(argv, environment: environment, actions: &actions, attributes: &attr)
    }
}
