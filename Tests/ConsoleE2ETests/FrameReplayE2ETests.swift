import Foundation
import Testing

/// Frames replayed through a real terminal in both locales (issue 19, Done when line 3): after
/// each step of a sequence that moves strings around (views, drill-downs, help, the palette,
/// resizes), tmux's screen must be exactly the frame the console last drew (`AGENTOS_FRAME_DUMP`).
/// A cell written narrower or wider than it was measured, or a wide character over a narrow
/// one, leaves a character of an earlier frame on the screen, and the two differ.
@Suite("frames replayed in both locales leave no debris", .serialized)
struct FrameReplayE2ETests {
    /// Lines without trailing spaces, without trailing empty lines (tmux trims them in captures).
    static func lines(_ text: String) -> [String] {
        var out = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            var l = String(line)
            while l.last == " " { l.removeLast() }
            return l
        }
        while out.last == "" { out.removeLast() }
        return out
    }

    /// The keys of each step, or a resize.
    enum Step {
        case keys([String])
        case resize(Int, Int)
    }

    static let steps: [(String, Step)] = [
        ("Jobs", .keys(["2"])), ("a job's detail", .keys(["Enter"])), ("back", .keys(["Escape"])), ("queues pane", .keys(["]"])),
        ("System Controls", .keys(["3"])), ("workers", .keys(["4"])), ("a worker's detail", .keys(["Enter"])), ("back", .keys(["Escape"])),
        ("Managers", .keys(["5"])), ("System Logs", .keys(["6"])), ("Configuration", .keys(["7"])), ("Analytics", .keys(["8"])),
        ("help", .keys(["?"])), ("help closed", .keys(["Escape"])), ("palette", .keys([":"])), ("palette closed", .keys(["Escape"])),
        ("40x12", .resize(40, 12)), ("Dashboard small", .keys(["1"])), ("help small", .keys(["?"])), ("help closed", .keys(["Escape"])),
        ("160x48", .resize(160, 48)), ("Jobs large", .keys(["2"])), ("80x24", .resize(80, 24)), ("Dashboard", .keys(["1"]))
    ]

    func replay(locale: String) throws {
        let dump = FileManager.default.temporaryDirectory.appendingPathComponent("agentos-frame-\(UUID().uuidString.prefix(8)).txt")
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("agentos-e2e-\(UUID().uuidString.prefix(8))")
        defer {
            try? FileManager.default.removeItem(at: dump)
            try? FileManager.default.removeItem(at: data)
        }
        let t = try TmuxSession(
            command:
                "env LANG=\(locale) LC_ALL=\(locale) AGENTOS_FRAME_DUMP=\(dump.path) AGENTOS_DATA_DIR=\(data.path) \(TmuxSession.binary) --seed 9 --rate 0.3",
            width: 100, height: 30)
        try t.waitFor("Health")
        for (name, step) in [("start", Step.keys([]))] + Self.steps {
            switch step {
            case .keys(let keys): for key in keys { try t.send(key) }
            case .resize(let w, let h): try t.resize(width: w, height: h)
            }
            // The fleet keeps moving and frames keep coming: wait for a capture taken between two
            // frames, which must then be the last frame exactly.
            var drawn: [String] = []
            var shown: [String] = []
            let same =
                (try? waitUntil("\(locale) \(name): the screen is the frame drawn", seconds: 20) {
                    shown = Self.lines(try t.capture())
                    drawn = Self.lines((try? String(contentsOf: dump, encoding: .utf8)) ?? "")
                    return !drawn.isEmpty && shown == drawn
                }) != nil
            if !same {
                let rows = (0..<max(shown.count, drawn.count)).filter { y in (y < shown.count ? shown[y] : "") != (y < drawn.count ? drawn[y] : "") }
                let diff = rows.prefix(6).map { y in
                    "row \(y)\n  screen: \(y < shown.count ? shown[y] : "")\n  frame:  \(y < drawn.count ? drawn[y] : "")"
                }
                Issue.record("\(locale) after \(name): the screen differs from the frame in \(rows.count) rows\n\(diff.joined(separator: "\n"))")
                return
            }
        }
        if locale == "C" {
            let screen = try t.capture()
            #expect(screen.unicodeScalars.allSatisfy { $0.isASCII }, "LANG=C: every cell ASCII")
        }
        try t.send("q")
        #expect(try t.waitForExit() == 0)
    }

    @Test func utf8() throws { try replay(locale: "C.UTF-8") }

    @Test func asciiOnly() throws { try replay(locale: "C") }
}
