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
}
