import Foundation
import Testing

/// Admin actions through the real binary on the embedded default: the impact dialog, y/N, the
/// typed confirmation of a critical action, the notices, and the audit chain they leave.
@Suite("action dialogs end to end in tmux", .serialized)
struct ActionDialogE2ETests {
    /// `AGENTOS_BINARY` runs another build of the binary (a private scratch path).
    static var binary: String { ProcessInfo.processInfo.environment["AGENTOS_BINARY"] ?? TmuxSession.binary }

    /// The short ids of the queued jobs of the first stage (STAGE "download") in a Jobs capture. The filter
    /// "video_downloader queued" matches more (a later stage's job whose history names the queue).
    static func queuedDownloads(_ screen: String) -> [String] {
        screen.split(separator: "\n").dropFirst(3).compactMap { row in
            let cells = row.split(separator: " ")
            guard let id = cells.first, id.count == 8, id.allSatisfy(\.isHexDigit), row.contains(" download   queued ") else { return nil }
            return String(id)
        }
    }

    /// The dialog's refusal when more would be deleted than was confirmed ("14 now, 13 confirmed…").
    static func refusal(_ screen: String) -> String? {
        screen.split(separator: "\n").first { $0.contains("confirm the new figure") }
            .map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "│ ")) }
    }

    /// The fleet keeps moving (ingest, workers, retries): the test holds the first stage with a paused
    /// queue, so a queued job of that queue stays queued until an action of the test removes it.
    @Test func cancelAJobClearAQueueThenTypedMaintenance() throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.binary), "build the binary first (swift build --build-tests)")
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("agentos-e2e-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: data) }
        let t = try TmuxSession(command: "env AGENTOS_DATA_DIR=\(data.path) \(Self.binary) --seed 5", width: 140, height: 40)
        try t.waitFor("Health", "events ●")

        // Hold new work in the first stage: pause its queue, through the impact dialog.
        try t.send("2")
        try t.waitFor("[jobs]")
        try t.send("]")
        try t.waitFor("[queues]", "video_downloader")
        try t.send("g")
        try t.send("P")
        // The impact is measured asynchronously: wait for the question, not just the title.
        try t.waitFor("will wait until it is resumed. [y/N]", "[ Cancel ]")
        try t.send("y")
        try t.waitFor("queue.pause: queue video_downloader paused")

        // Queued jobs of that queue: c on the first, then y.
        try t.send("[")
        try t.waitFor("[jobs]")
        try t.send("/")
        try t.type("video_downloader queued")
        try t.send("Enter")
        try t.waitFor("two queued jobs") { s in line(s, 1).contains("/video_downloader queued") && Self.queuedDownloads(s).count >= 2 }
        try t.send("g")
        try t.send("c")
        func dialogJob() throws -> String {
            let screen = try t.waitFor("Cancel job ", "? [y/N]")
            let line = try #require(screen.split(separator: "\n").first { $0.contains("Cancel job ") && $0.contains("? [y/N]") }, "\(screen)")
            let after = try #require(line.range(of: "Cancel job "))
            let shortID = String(line[after.upperBound...].prefix(8))
            #expect(shortID.count == 8 && shortID.allSatisfy(\.isHexDigit), "\(line)")
            return shortID
        }
        _ = try dialogJob()
        // Enter is No.
        try t.send("Enter")
        try t.waitFor("job.cancel not run: declined")
        try t.send("c")
        let shortID = try dialogJob()
        try t.send("y")
        try t.waitFor("job.cancel: job \(shortID)… cancelled")

        // The row says so. Another job still queued in the paused queue is the witness of the clear below.
        try t.send("Escape")
        try t.send("/")
        try t.type("video_downloader queued")
        try t.send("Enter")
        let queued = try t.waitFor("another queued job") { s in
            line(s, 1).contains("/video_downloader queued") && Self.queuedDownloads(s).contains { $0 != shortID }
        }
        let witness = try #require(Self.queuedDownloads(queued).first { $0 != shortID })
        try t.send("Escape")
        try t.send("/")
        try t.type(shortID)
        try t.send("Enter")
        try t.waitFor("the job cancelled") { s in
            line(s, 1).contains("/\(shortID)") && s.split(separator: "\n").contains { $0.contains(shortID) && $0.contains(" cancelled ") }
        }

        // Clear the held-up queue: the impact, the queue's name typed (a wrong one first), a reason.
        try t.send("Escape")
        try t.waitFor("the filter cleared") { !line($0, 1).contains("/\(shortID)") && line($0, 1).contains("[jobs]") }
        try t.send("]")
        try t.waitFor("[queues]")
        try t.send("g")
        try t.send("C")
        let dialog = try t.waitFor("type video_downloader:", "Clear queue video_downloader:")
        let impact = try #require(dialog.split(separator: "\n").first { $0.contains("Clear queue video_downloader:") }, "\(dialog)")
        #expect(impact.contains("pending job") && impact.contains("will be deleted"), "\(impact)")
        try t.type("video_uploader")
        try t.send("Enter")
        let refused = try t.waitFor("refused: 'video_uploader' is not 'video_downloader'")
        #expect(!refused.contains("cleared queue video_downloader"), "nothing ran")
        try t.type("video_downloader")
        try t.send("Enter")
        try t.waitFor("reason:")
        try t.type("INC-7 poison batch")
        try t.send("Enter")
        // The paused queue still takes in new jobs. One that arrives after the dialog's last count
        // makes the console refuse (nothing changed) and ask again with the new figure, the reason
        // kept: answer as an operator would until the clear runs. Each refusal names a larger figure.
        var cleared = ""
        var lastRefusal = ""
        for _ in 0..<5 {
            let screen = try t.waitFor("the clear, or a new refusal after '\(lastRefusal)'") { s in
                (s.contains("cleared queue video_downloader:") && s.contains("pending job(s) deleted"))
                    || Self.refusal(s).map { $0 != lastRefusal } == true
            }
            guard let refusal = Self.refusal(screen), !screen.contains("cleared queue video_downloader:") else {
                cleared = screen
                break
            }
            #expect(screen.contains("type video_downloader:"), "asked again for the name: \(screen)")
            lastRefusal = refusal
            try t.type("video_downloader")
            try t.send("Enter")
            try t.waitFor("reason: INC-7 poison batch")
            try t.send("Enter")
        }
        try #require(!cleared.isEmpty, "the clear ran within five confirmations")
        let deleted = try #require(
            cleared.components(separatedBy: "cleared queue video_downloader: ").dropFirst().first
                .flatMap { Int($0.prefix { $0.isNumber }) }, "\(cleared)")
        #expect(deleted >= 1, "the clear deleted the queued jobs: \(cleared)")
        // The witness, queued in the paused queue until the clear, is gone.
        try t.send("[")
        try t.waitFor("[jobs]")
        try t.send("/")
        try t.type(witness)
        try t.send("Enter")
        try t.waitFor("0 rows", "no rows match \(witness)")

        // A critical action that runs embedded: maintenance on, from System Controls.
        try t.send("Escape")
        try t.send("3")
        try t.waitFor("Database activity")
        try t.send("M")
        try t.waitFor("type system:")
        try t.type("systen")
        try t.send("Enter")
        let wrong = try t.waitFor("refused: 'systen' is not 'system'")
        #expect(!wrong.contains("maintenance ON"), "nothing ran")
        try t.type("system")
        try t.send("Enter")
        try t.waitFor("reason:")
        try t.send("Enter")
        try t.waitFor("a reason (ticket) is required")
        try t.type("INC-42 e2e")
        try t.send("Enter")
        try t.waitFor("MAINTENANCE", "maintenance ON")

        // The operator's own actions are lines in System Logs, among the fleet's (source audit).
        try t.send("6")
        try t.waitFor("the logs view") { line($0, 1).hasPrefix(" System Logs") }
        try t.send("/")
        try t.type("queue.clear video_downloader")
        try t.send("Enter")
        try t.waitFor("the clear's line") { s in
            line(s, 1).contains("/queue.clear video_downloader")
                && s.split(separator: "\n").contains { $0.contains(" audit ") && $0.contains("queue.clear video_downloader success") }
        }
        try t.send("Escape")

        try t.send("q")
        #expect(try t.waitForExit() == 0)
        // Every action left its rows in the embedded audit chain, the reason with the critical one.
        let audit = try String(contentsOf: data.appendingPathComponent("logs/audit/audit.jsonl"), encoding: .utf8)
        for needle in [
            "\"action\":\"queue.pause\"", "\"action\":\"job.cancel\"", "\"action\":\"queue.clear\"", "\"reason\":\"INC-7 poison batch\"",
            "\"reason\":\"INC-42 e2e\"", "\"target\":\"system\""
        ] {
            #expect(audit.contains(needle), "\(needle) in the audit chain")
        }
    }
}
