import AgentOSCore
import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// swift-log to a file (`$XDG_STATE_HOME/agentos/agentos.log`), never the screen: one line per
/// record, `2026-11-27T03:12:45.120Z info console: message key=value`. Opened for appending,
/// 0600; every write is one `write(2)`, so concurrent consoles interleave whole lines.
/// Message and metadata go through `TextSanitizer` (newlines, tabs and every control, C1 and bidi
/// character as visible escapes): text from the bus cannot forge a record or drive the terminal
/// of whoever runs `tail -f` on the file.
public struct FileLogHandler: LogHandler {
    final class Sink: Sendable {
        let fd: Int32
        let lock = Mutex(())
        init(fd: Int32) { self.fd = fd }
        deinit { close(fd) }
        func write(_ line: String) {
            var bytes = Array(line.utf8)
            lock.withLock { _ in _ = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress, $0.count) } }
        }
    }

    private let sink: Sink
    private let label: String
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]

    init(label: String, sink: Sink, level: Logger.Level) {
        self.label = label
        self.sink = sink
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { _, new in new } }
        let fields = all.sorted { $0.key < $1.key }.map { " \(Self.clean($0.key))=\(Self.clean("\($0.value)"))" }.joined()
        let ts = Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
        sink.write("\(ts) \(event.level) \(label): \(Self.clean("\(event.message)"))\(fields)\n")
    }

    /// One record per line (a newline would forge records), nothing a terminal would obey.
    static func clean(_ text: String) -> String { TextSanitizer.clean(text, .init(keepNewlines: false, tabWidth: nil)) }

    /// Opens (creating the directory) `url` for appending and returns a factory for
    /// `LoggingSystem.bootstrap`. Throws when the file cannot be opened.
    public static func factory(_ url: URL, level: Logger.Level) throws -> @Sendable (String) -> any LogHandler {
        try FileManager.default.createDirectory(
            at: url.deletingLastPathComponent(), withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        let fd = open(url.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: url.path]) }
        let sink = Sink(fd: fd)
        return { label in FileLogHandler(label: label, sink: sink, level: level) }
    }
}

extension LogLevel {
    public var swiftLog: Logger.Level { Logger.Level(rawValue: rawValue) ?? .info }
}
