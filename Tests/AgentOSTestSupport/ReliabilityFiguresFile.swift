import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The file the reliability checks append their figures to, one JSON line each
/// (`AGENTOS_RELIABILITY_FIGURES`, collected by scripts/reliability.sh). Unset: nothing is written.
public enum ReliabilityFiguresFile {
    private static let lock = Mutex(())

    public static var isEnabled: Bool { !(ProcessInfo.processInfo.environment["AGENTOS_RELIABILITY_FIGURES"] ?? "").isEmpty }

    /// Appends `object` as one line of JSON with sorted keys.
    public static func append(_ object: [String: Any]) {
        guard isEnabled, let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
        append(line: data)
    }

    /// Appends `data` (one JSON value) and a newline, in one write.
    public static func append(line data: Data) {
        guard let path = ProcessInfo.processInfo.environment["AGENTOS_RELIABILITY_FIGURES"], !path.isEmpty else { return }
        lock.withLock { _ in
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            guard fd >= 0 else { return }
            defer { close(fd) }
            let line = data + Data("\n".utf8)
            _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        }
    }
}
