import Foundation

/// RFC 4180: CRLF line ends; fields with a comma, quote, CR or LF quoted, quotes doubled.
public enum CSVText {
    public static func field(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    public static func row(_ fields: [String]) -> String { fields.map(field).joined(separator: ",") + "\r\n" }
}

/// Numbers and re-encoded JSON for the files the actions write (strings: `CanonicalJSON.string`).
public enum ActionJSON {
    public static func number(_ d: Double) -> String {
        guard d.isFinite else { return "null" }
        if d == d.rounded(), abs(d) < 1e15 { return String(Int(d)) }
        return String(d)
    }

    public static func number(_ d: Double?) -> String { d.map { number($0) } ?? "null" }

    /// Any JSON value, re-encoded with sorted keys and `string` escapes (optionally sanitising
    /// every string for terminals). Text that is not JSON becomes a string.
    public static func reencode(_ text: String, sanitized: Bool) -> String {
        guard let tree = try? JSONTree.parse(Array(text.utf8)) else {
            return CanonicalJSON.string(sanitized ? TextSanitizer.clean(text, .multiLine) : text)
        }
        return tree.canonical(sanitized)
    }
}

extension JSONTree {
    /// Sorted keys and `CanonicalJSON` string escapes; every string sanitised for terminals if asked.
    public func canonical(_ sanitized: Bool) -> String {
        let s = { (t: String) in CanonicalJSON.string(sanitized ? TextSanitizer.clean(t, .multiLine) : t) }
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return ActionJSON.number(d)
        case .string(let t): return s(t)
        case .array(let items): return "[" + items.map { $0.canonical(sanitized) }.joined(separator: ",") + "]"
        case .object(let fields):
            return "{" + fields.keys.sorted().map { s($0) + ":" + fields[$0]!.canonical(sanitized) }.joined(separator: ",") + "}"
        }
    }
}

/// Files under the data directory: created 0600 (never over an existing file), fully written
/// and synced before the action returns.
public enum ActionFiles {
    /// A file-name time stamp: UTC, milliseconds, sortable.
    public static func stamp(_ date: Date = Date()) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd'T'HHmmss.SSS'Z'"
        return f.string(from: date)
    }

    /// `<root>/<sub>`, created 0700 (with its parents).
    public static func directory(_ root: URL, _ sub: String) throws -> URL {
        let url = root.appendingPathComponent(sub)
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch { throw ActionFailure.failed("cannot create \(url.path): \(error)") }
        return url
    }

    /// Regular files under `dir` last modified more than `days` days ago (system.io_cleanup), by path.
    public static func files(under dir: URL, olderThanDays days: Int) throws -> [URL] {
        guard let items = FileManager.default.enumerator(at: dir, includingPropertiesForKeys: [.contentModificationDateKey, .isRegularFileKey]) else {
            return []
        }
        let cutoff = Date().addingTimeInterval(-Double(days) * 86_400)
        return try items.compactMap { $0 as? URL }.filter { url in
            let v = try url.resourceValues(forKeys: [.contentModificationDateKey, .isRegularFileKey])
            return v.isRegularFile == true && (v.contentModificationDate ?? .distantFuture) < cutoff
        }.sorted { $0.path < $1.path }
    }

    /// Deletes `files`; their total size in bytes.
    public static func remove(_ files: [URL]) throws -> Int {
        var bytes = 0
        for f in files {
            bytes += (try? f.resourceValues(forKeys: [.fileSizeKey]).fileSize) ?? 0
            try FileManager.default.removeItem(at: f)
        }
        return bytes
    }

    /// What system.io_cleanup reports.
    public static func removed(_ files: [URL], bytes: Int) -> ActionResult {
        ActionResult("deleted \(files.count) processed media file(s), \(bytes) bytes", affected: files.count, details: ["bytes": .int(bytes)])
    }

    /// The free share of the file system holding `url`, in percent (nil: unknown).
    public static func freePercent(_ url: URL) -> Int? {
        guard let attrs = try? FileManager.default.attributesOfFileSystem(forPath: url.path),
            let free = attrs[.systemFreeSize] as? NSNumber, let size = attrs[.systemSize] as? NSNumber, size.int64Value > 0
        else { return nil }
        return Int(free.int64Value * 100 / size.int64Value)
    }

    /// `<dir>/<base>-<stamp>.<ext>` (with `-1`, `-2`, … on a clash); `keepFree` is a suffix whose
    /// file must not exist either (`.gz` before compressing).
    public static func create(in dir: URL, _ base: String, ext: String, _ data: Data, keepFree: String? = nil) throws -> URL {
        let stamp = Self.stamp()
        for attempt in 0..<100 {
            let url = dir.appendingPathComponent("\(base)-\(stamp)\(attempt == 0 ? "" : "-\(attempt)").\(ext)")
            if let keepFree, FileManager.default.fileExists(atPath: url.path + keepFree) { continue }
            if try write(url, data) { return url }
        }
        throw ActionFailure.failed("no free file name for \(base)-\(stamp).\(ext) in \(dir.path)")
    }

    /// Creates exactly `url` (0600, never over an existing file), writes and syncs it; false when
    /// the name is taken.
    @discardableResult
    public static func write(_ url: URL, _ data: Data) throws -> Bool {
        let fd = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd < 0 {
            if errno == EEXIST { return false }
            throw ActionFailure.failed("cannot create \(url.path): \(String(cString: strerror(errno)))")
        }
        let failure = writeAll(fd, data)
        close(fd)
        if let failure {
            unlink(url.path)
            throw ActionFailure.failed("cannot write \(url.path): \(failure)")
        }
        return true
    }

    /// Writes everything, forces 0600 (whatever the umask) and syncs; the error text or nil.
    private static func writeAll(_ fd: Int32, _ data: Data) -> String? {
        let err: Int32 = data.withUnsafeBytes { buf in
            var offset = 0
            while offset < buf.count {
                let n = Glibc.write(fd, buf.baseAddress! + offset, buf.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += n
            }
            return 0
        }
        if err != 0 { return String(cString: strerror(err)) }
        if fchmod(fd, 0o600) != 0 || fsync(fd) != 0 { return String(cString: strerror(errno)) }
        return nil
    }

    /// Compresses `file` with gzip (which replaces it by `file.gz`, same mode); the `.gz` URL.
    public static func gzip(_ file: URL) throws -> URL {
        let out = URL(fileURLWithPath: file.path + ".gz")
        func fail(_ why: String) -> ActionFailure {
            try? FileManager.default.removeItem(at: file)
            try? FileManager.default.removeItem(at: out)
            return ActionFailure.failed(why)
        }
        guard let tool = ["/bin/gzip", "/usr/bin/gzip"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw fail("gzip not found (/bin/gzip, /usr/bin/gzip)")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = ["-n", "--", file.path]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        do { try p.run() } catch { throw fail("cannot run \(tool): \(error)") }
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationReason == .exit, p.terminationStatus == 0, FileManager.default.fileExists(atPath: out.path) else {
            throw fail("gzip exited \(p.terminationStatus): \(TextSanitizer.clean(String(decoding: stderr.prefix(300), as: UTF8.self)))")
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: out.path)
        return out
    }
}
