import Foundation
import Testing

/// Admin actions through the real binary on the embedded default: the impact dialog, y/N, the
/// typed confirmation of a critical action, the notices, and the audit chain they leave.
@Suite("action dialogs end to end in tmux", .serialized)
struct ActionDialogE2ETests {
    /// `AGENTOS_BINARY` runs another build of the binary (a private scratch path).
    static var binary: String { ProcessInfo.processInfo.environment["AGENTOS_BINARY"] ?? TmuxSession.binary }

    @Test func cancelAJobClearAQueueThenTypedMaintenance() throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.binary), "build the binary first (swift build --build-tests)")
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("agentos-e2e-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: data) }
        let t = try TmuxSession(command: "env AGENTOS_DATA_DIR=\(data.path) \(Self.binary) --seed 5", width: 140, height: 40)
        _ = t.waitFor("Health")
        _ = t.waitFor("events ●")

        // Hold new work in the first stage: pause its queue, through the impact dialog.
        try t.send("2")
        _ = t.waitFor("[jobs]")
        try t.send("]")
        _ = t.waitFor("[queues]")
        try t.send("g")
        try t.send("P")
        // The impact is measured asynchronously: wait for the question, not just the title.
        var screen = t.waitFor("will wait until it is resumed. [y/N]", seconds: 20)
        #expect(screen.contains("will wait until it is resumed. [y/N]") && screen.contains("[ Cancel ]"), "\(screen)")
        try t.send("y")
        _ = t.waitFor("queue.pause: queue video_downloader paused")

        // A queued job of that queue: c, then y.
        try t.send("[")
        _ = t.waitFor("[jobs]")
        try t.send("/")
        try t.type("video_downloader queued")
        try t.send("Enter")
        screen = t.waitFor(20, "a queued job") { s in
            s.contains("/video_downloader queued") && s.split(separator: "\n").dropFirst(3).contains { $0.contains(" queued ") }
        }
        try t.send("g")
        try t.send("c")
        func dialogJob() throws -> String {
            let screen = t.waitFor("? [y/N]")
            let line = try #require(screen.split(separator: "\n").first { $0.contains("Cancel job ") && $0.contains("? [y/N]") }, "\(screen)")
            let after = try #require(line.range(of: "Cancel job "))
            let shortID = String(line[after.upperBound...].prefix(8))
            #expect(shortID.count == 8 && shortID.allSatisfy(\.isHexDigit), "\(line)")
            return shortID
        }
        _ = try dialogJob()
        // Enter is No.
        try t.send("Enter")
        _ = t.waitFor("job.cancel cancelled")
        // Asked again (a worker may have started the first job meanwhile, which moves the selection to the
        // next queued one: the dialog names the job it will cancel).
        try t.send("c")
        let shortID = try dialogJob()
        try t.send("y")
        _ = t.waitFor("job.cancel: job \(shortID)… cancelled")

        // The row says so.
        try t.send("Escape")
        _ = t.waitFor(5, "the filter cleared") { !$0.contains("/video_downloader queued") }
        try t.send("/")
        try t.type(shortID)
        try t.send("Enter")
        screen = t.waitFor(10, "the job cancelled") { s in
            s.split(separator: "\n").contains { $0.contains(shortID) && $0.contains(" cancelled ") }
        }

        // Clear the held-up queue: the impact, the queue's name typed (a wrong one first), a reason.
        try t.send("Escape")
        _ = t.waitFor(5, "the filter cleared") { !$0.contains("/\(shortID)") }
        try t.send("]")
        _ = t.waitFor("[queues]")
        try t.send("g")
        try t.send("C")
        screen = t.waitFor("type video_downloader:")
        let impact = try #require(screen.split(separator: "\n").first { $0.contains("Clear queue video_downloader:") }, "\(screen)")
        #expect(impact.contains("pending job") && impact.contains("will be deleted"), "\(impact)")
        try t.type("video_uploader")
        try t.send("Enter")
        _ = t.waitFor("refused: 'video_uploader' is not 'video_downloader'")
        try t.type("video_downloader")
        try t.send("Enter")
        _ = t.waitFor("reason:")
        try t.type("INC-7 poison batch")
        try t.send("Enter")
        screen = t.waitFor("cleared queue video_downloader:")
        // The queues table shows it empty (the queue is still paused, so nothing new arrives).
        screen = t.waitFor(10, "video_downloader at 0 pending") { s in
            s.split(separator: "\n").contains { row in
                let cells = row.split(separator: " ", omittingEmptySubsequences: true)
                guard let i = cells.firstIndex(of: "video_downloader"), i + 1 < cells.count else { return false }
                return cells[i + 1] == "0"
            }
        }

        // A critical action that runs embedded: maintenance on, from System Controls.
        try t.send("3")
        _ = t.waitFor("Database activity")
        try t.send("M")
        _ = t.waitFor("type system:")
        try t.type("systen")
        try t.send("Enter")
        screen = t.waitFor("refused: 'systen' is not 'system'")
        #expect(!screen.contains("maintenance ON"), "nothing ran")
        try t.type("system")
        try t.send("Enter")
        _ = t.waitFor("reason:")
        try t.send("Enter")
        _ = t.waitFor("a reason (ticket) is required")
        try t.type("INC-42 e2e")
        try t.send("Enter")
        screen = t.waitFor(10, "the maintenance banner") { $0.contains("MAINTENANCE") && $0.contains("maintenance ON") }

        // Every action left its rows in the embedded audit chain, the reason with the critical one.
        let audit = (try? String(contentsOf: data.appendingPathComponent("logs/audit/audit.jsonl"), encoding: .utf8)) ?? ""
        #expect(audit.contains("\"action\":\"queue.pause\"") && audit.contains("\"action\":\"job.cancel\""))
        #expect(audit.contains("\"action\":\"queue.clear\"") && audit.contains("\"reason\":\"INC-7 poison batch\""))
        #expect(audit.contains("\"reason\":\"INC-42 e2e\"") && audit.contains("\"target\":\"system\""))

        try t.send("q")
        _ = t.waitFor(5, "the console to exit") { _ in !t.isAlive }
    }
}
