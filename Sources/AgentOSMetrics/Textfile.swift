import Foundation

/// node_exporter's textfile collector reads `*.prom` files from a directory: the exposition is
/// written to a hidden temporary file beside it and renamed over `agentos.prom`, so the collector
/// never sees half a file.
public enum Textfile {
    public static let fileName = "agentos.prom"

    @discardableResult
    public static func write(_ exposition: String, to directory: URL) throws -> URL {
        let target = directory.appendingPathComponent(fileName)
        let temp = directory.appendingPathComponent(".\(fileName).\(ProcessInfo.processInfo.processIdentifier).tmp")
        try Data(exposition.utf8).write(to: temp)
        guard rename(temp.path, target.path) == 0 else {
            let why = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temp)
            throw TextfileError(description: "cannot rename \(temp.path) to \(target.path): \(why)")
        }
        return target
    }

    public struct TextfileError: Error, CustomStringConvertible {
        public let description: String
    }
}
