import ArgumentParser
import Foundation

/// `agentos metrics …` runs `agentos-metrics …`, the exporter's own executable (installed beside
/// `agentos`), so the console binary links no HTTP server.
struct MetricsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "The Prometheus exporter: `agentos metrics serve --listen 127.0.0.1:9464` (runs agentos-metrics).",
        discussion: "Every argument goes to agentos-metrics: serve [--listen HOST:PORT] [--textfile DIR [--interval S] [--once]], print; "
            + "--redis URL --postgres URL [--namespace NS]. See `agentos-metrics help serve`.")

    @Argument(parsing: .captureForPassthrough, help: "Arguments for agentos-metrics.")
    var arguments: [String] = []

    func run() throws {
        guard let binary = Self.exporterPath() else {
            FileHandle.standardError.write(Data("agentos: agentos-metrics not found beside agentos or on PATH\n".utf8))
            throw ExitCode(69)
        }
        let argv = [binary] + arguments
        var cArgs = argv.map { strdup($0) }
        cArgs.append(nil)
        execv(binary, &cArgs)
        FileHandle.standardError.write(Data("agentos: cannot run \(binary): \(String(cString: strerror(errno)))\n".utf8))
        throw ExitCode(69)
    }

    /// `agentos-metrics` in the directory of this executable, else on PATH.
    static func exporterPath() -> String? {
        let me = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
        let beside = me.deletingLastPathComponent().appendingPathComponent("agentos-metrics").path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let candidate = "\(dir)/agentos-metrics"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
