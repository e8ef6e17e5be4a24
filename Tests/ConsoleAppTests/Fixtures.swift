import AgentOSCore
import AgentOSWorld
import ConsoleApp
import ConsoleUI
import Foundation
import Testing

enum Fixture {
    static let start = Date(timeIntervalSince1970: 1_795_729_200)
    static let now = start.addingTimeInterval(900)

    /// A deterministic snapshot: seed 21, 15 simulated minutes.
    static let snapshot: Snapshot = {
        var sim = FleetSimulator(config: SimulatorConfig(seed: 21), start: start)
        // An alert that is still open at the end (the fleet's own ones resolved by then).
        _ = sim.apply(.addLogAlertRule(LogAlertRule(id: 1, pattern: "failed in", level: .error, severity: .error)!))
        _ = sim.advance(to: now, step: 1)
        _ = sim.apply(.pauseQueue("video_cutter"))
        var s = sim.snapshot(generation: 7)
        s.system.database.running = [
            .init(pid: 4242, user: "agentos", state: "active", durationSeconds: 2.5, query: "SELECT * FROM jobs WHERE status = $1"),
            .init(pid: 4243, user: "report", state: "idle in transaction", durationSeconds: 95, query: "UPDATE workers SET load = $2")
        ]
        return s
    }()

    static func state(width: Int = 80, height: Int = 24, view: ViewID = .dashboard) -> AppState {
        var state = AppState(
            connection: ConnectionState(mode: "embedded", environment: "embedded"),
            operatorInfo: OperatorInfo(user: "alice", role: "admin"), now: now, width: width, height: height)
        state.connection.events = .up
        _ = App.update(&state, .snapshotLoaded(snapshot))
        _ = App.update(&state, .key(.char(Character(String(view.tabIndex + 1)))))
        return state
    }

    /// Compares the rendered frame with a golden file (text grid + style runs); `runs` replaces
    /// the style runs (a theme's inks). `AGENTOS_RECORD=1` writes the file and fails the test, so a
    /// recording never passes unreviewed; with `CI` set it refuses and writes nothing.
    static func assertGolden(
        _ buffer: CellBuffer, _ name: String, runs: String? = nil, filePath: String = #filePath,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let dir = URL(fileURLWithPath: filePath).deletingLastPathComponent().appendingPathComponent("__Snapshots__")
        let url = dir.appendingPathComponent("\(name).txt")
        let actual = buffer.text() + (runs == nil ? "\n--- styles ---\n" : "\n--- inks ---\n") + (runs ?? buffer.styleRuns()) + "\n"
        let environment = ProcessInfo.processInfo.environment
        if environment["AGENTOS_RECORD"] == "1" {
            if environment["CI"] != nil {
                Issue.record(
                    "AGENTOS_RECORD=1 under CI: golden frames are recorded on a workstation and reviewed, never in CI (\(name).txt not written)",
                    sourceLocation: sourceLocation)
                return
            }
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try actual.write(to: url, atomically: true, encoding: .utf8)
            Issue.record("recorded \(name).txt: review the diff and re-run without AGENTOS_RECORD", sourceLocation: sourceLocation)
            return
        }
        guard FileManager.default.fileExists(atPath: url.path) else {
            Issue.record("no golden frame \(name).txt: run with AGENTOS_RECORD=1 to record it", sourceLocation: sourceLocation)
            return
        }
        let expected = try String(contentsOf: url, encoding: .utf8)
        if expected != actual {
            let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
            let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
            let line = zip(e, a).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(e.count, a.count)
            Issue.record(
                "frame \(name) differs at line \(line + 1):\n- \(line < e.count ? e[line] : "<end>")\n+ \(line < a.count ? a[line] : "<end>")\n(AGENTOS_RECORD=1 re-records)",
                sourceLocation: sourceLocation)
        }
    }
}

/// Everything written to `file` so far (a `tmpfile()` a curses screen wrote to).
func writtenBytes(_ file: UnsafeMutablePointer<FILE>) -> [UInt8] {
    fflush(file)
    let size = ftell(file)
    rewind(file)
    var bytes = [UInt8](repeating: 0, count: size)
    let read = fread(&bytes, 1, size, file)
    return Array(bytes.prefix(read))
}
