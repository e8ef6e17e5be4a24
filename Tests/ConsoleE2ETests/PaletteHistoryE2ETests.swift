import Foundation
import Testing

/// The palette keeps its history between consoles (issue 20 item 1): in
/// `$XDG_STATE_HOME/agentos/palette_history`, and `↑` in the next console's palette brings it back.
@Suite("the palette's history outlives the console", .serialized)
struct PaletteHistoryE2ETests {
    @Test func aCommandRunInOneConsoleIsRecalledInTheNext() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("agentos-palette-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: root) }
        let command = "env XDG_STATE_HOME=\(root.path)/state AGENTOS_DATA_DIR=\(root.path)/data \(TmuxSession.binary) --seed 3"

        let first = try TmuxSession(command: command)
        try first.waitFor("Health")
        try first.send(":")
        try first.type("managers")
        try first.send("Enter")
        try first.waitFor("the managers") { line($0, 1).hasPrefix(" Managers") }
        try first.send("q")
        #expect(try first.waitForExit() == 0)
        let file = root.appendingPathComponent("state/agentos/palette_history")
        #expect(try String(contentsOf: file, encoding: .utf8) == "managers\n")
        let mode = try FileManager.default.attributesOfItem(atPath: file.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)

        let second = try TmuxSession(command: command)
        try second.waitFor("Health")
        try second.send(":")
        try second.send("Up")
        try second.waitFor(":managers_")
        try second.send("Enter")
        try second.waitFor("the managers again") { line($0, 1).hasPrefix(" Managers") }
        try second.send("q")
        #expect(try second.waitForExit() == 0)
    }
}
