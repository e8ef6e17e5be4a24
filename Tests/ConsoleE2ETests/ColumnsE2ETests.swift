import Foundation
import Testing

/// Column toggles remembered per view in the configuration file (issue 20 item 8): a column hidden
/// with the picker (`ctrl-w`) is written to `hidden_columns:` of the operator's file, their own lines
/// kept, and the next console starts with it hidden.
@Suite("hidden columns outlive the console", .serialized)
struct ColumnsE2ETests {
    @Test func aColumnHiddenInOneConsoleIsHiddenInTheNext() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("agentos-columns-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: root) }
        let config = root.appendingPathComponent("config/agentos/config.yaml")
        try FileManager.default.createDirectory(at: config.deletingLastPathComponent(), withIntermediateDirectories: true)
        let mine = "# my settings\ntheme: default   # kept as written\n"
        try mine.write(to: config, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: config.path)
        let command =
            "env XDG_CONFIG_HOME=\(root.path)/config XDG_STATE_HOME=\(root.path)/state AGENTOS_DATA_DIR=\(root.path)/data \(TmuxSession.binary) --seed 3"

        let first = try TmuxSession(command: command)
        try first.waitFor("Health")
        try first.send("2")
        try first.waitFor("STAGE", "STATUS", "WORKER")
        try first.send("C-w")
        try first.waitFor("Columns — ", "[x] ID", "[x] STAGE")
        try first.send("j", "j", "Space")
        try first.waitFor("[ ] STAGE")
        try waitForFile(config.path, "the jobs screen's hidden stage") { String(decoding: $0, as: UTF8.self).contains("  jobs: [stage]\n") }
        let written = try String(contentsOf: config, encoding: .utf8)
        #expect(written.hasPrefix(mine + "hidden_columns:"), "the operator's lines stay first, as written:\n\(written)")
        try first.send("Escape")
        try first.waitFor("STATUS", "WORKER", absent: ["STAGE", "Columns — "])
        try first.send("q")
        #expect(try first.waitForExit() == 0)

        let second = try TmuxSession(command: command)
        try second.waitFor("Health")
        try second.send("2")
        try second.waitFor("STATUS", "WORKER", absent: ["STAGE"])
        try second.send("C-w")
        try second.waitFor("[x] ID", "[ ] STAGE")
        try second.send("Escape")
        try second.send("q")
        #expect(try second.waitForExit() == 0)
    }
}
