import AgentOSTestSupport
import ConsoleApp
import ConsoleConfig
import ConsoleUI
import Foundation
import Testing

@Suite struct KeyMapTests {
    @Test func everyShippedKeyMapLoads() throws {
        let files = try Repo.files(Repo.keymaps)
        #expect(Set(files.map { $0.deletingPathExtension().lastPathComponent }).isSuperset(of: ["default", "vim"]))
        for file in files {
            let layers = try KeyMapFile.load(file, locator: Repo.keymapLocator)
            let map = layers.keyMap
            #expect(map.command(for: .char("q")) == .quit && map.command(for: .ctrl("c")) == .quit, "\(file.lastPathComponent) quits on q and ctrl-c")
            // Every command stays reachable.
            for command in Command.all { #expect(!map.keys(for: command).isEmpty, "\(file.lastPathComponent): \(command.name) has no key") }
        }
    }

    @Test func theDefaultFileIsTheBuiltInMap() throws {
        let file = try Repo.keymapLocator.loadKeyMap("default").keyMap
        #expect(file == KeyMap.standard)
        #expect(file.bindings.map { "\($0.key)=\($0.command.name)" } == KeyMap.standard.bindings.map { "\($0.key)=\($0.command.name)" })
    }

    @Test func vimAddsItsMotionsToTheDefault() throws {
        let vim = try Repo.keymapLocator.loadKeyMap("vim").keyMap
        #expect(vim.name == "vim")
        #expect(vim.command(for: .ctrl("d")) == .pageDown && vim.command(for: .ctrl("u")) == .pageUp)
        #expect(vim.command(for: .char("h")) == .previousPane && vim.command(for: .char("l")) == .nextPane)
        #expect(vim.command(for: .char("j")) == .down && vim.command(for: .char("q")) == .quit)
        // The help is generated from the active map.
        let help = vim.helpSections().flatMap(\.entries)
        #expect(help.contains { $0.keys.contains("ctrl-d") && $0.help == "page down" })
        #expect(help.contains { $0.keys == "] → l" && $0.help.hasPrefix("next pane") })
    }

    func parse(_ text: String, locator: AssetLocator? = Repo.keymapLocator) throws(ConfigError) -> KeyMapLayers {
        try KeyMapFile.parse(text, file: "user.yaml", locator: locator)
    }

    @Test func aKeyBoundTwiceIsAnErrorUnlessMarkedOverride() throws {
        // Across layers: j is `down` in the default.
        do {
            _ = try parse("extends: default\nbindings:\n  reload: [F5]\n  quit: [j]\n")
            Issue.record("a second binding of j was accepted")
        } catch {
            #expect(error.line == 4 && error.key == "bindings.quit")
            // `extends: default` found keymaps/default.yaml, which binds j on its line 24.
            #expect(error.message.contains("'j' is already bound to down (\(Repo.keymaps.path)/default.yaml:24)"), "\(error.message)")
            #expect(error.message.contains("override: true"))
        }
        // In one file.
        do {
            _ = try parse("bindings:\n  quit: [x]\n  reload: [x]\n")
            Issue.record("x bound twice in one file was accepted")
        } catch {
            #expect(error.line == 3 && error.message.contains("bound twice in this file (also at user.yaml:2)"))
        }
        // Marked: j moves to quit, and nothing else changes.
        let map = try parse("extends: default\nbindings:\n  quit: [{ key: j, override: true }]\n").keyMap
        #expect(map.command(for: .char("j")) == .quit && map.keys(for: .down) == [.down])
        // unbind frees a key for another command.
        let freed = try parse("extends: default\nunbind: [w]\nbindings:\n  reload: [w]\n").keyMap
        #expect(freed.command(for: .char("w")) == .reload && freed.keys(for: .window).isEmpty)
    }

    @Test func unknownCommandsKeysAndActionsAreNamed() throws {
        // Each file but two binds quit to q first, so that only the named problem is left.
        let quit = "bindings:\n  quit: [q]\n"
        let cases = [
            Refusal(quit + "  teleport: [t]\n", 3, "bindings.teleport", "unknown command"),
            Refusal(quit + "  reload: [ctrl-ä-x]\n", 3, "bindings.reload", "not a key"),
            Refusal(quit + "actions:\n  job.vaporise: V\n", 4, "actions.job.vaporise", "unknown action"),
            Refusal(quit + "actions:\n  job.cancel: x\n", 4, "actions.job.cancel", "already the key of job.kill"),
            Refusal(quit + "actions:\n  job.cancel: cc\n", 4, "actions.job.cancel", "one character"),
            Refusal("bindings:\n  reload: [r]\n", 0, "bindings.quit", "no key quits"),
            Refusal("extends: nowhere\n" + quit, 1, "extends", "no key map named 'nowhere'"),
            Refusal(quit + "shortcuts: {}\n", 3, "shortcuts", "unknown key")
        ]
        expectRefusals(cases) { text in _ = try parse(text) }
    }

    @Test func actionKeysMoveAndTheHelpFollows() throws {
        let map = try parse("extends: default\nactions:\n  job.cancel: C\n  job.retry: \"\"\n").keyMap
        #expect(map.actionKey(.jobCancel, catalog: "c") == "C")
        #expect(map.actionKey(.jobRetry, catalog: "r") == nil)
        #expect(map.actionKey(.jobKill, catalog: "x") == "x")
    }

    @Test func fuzzedKeyMapsFailClearlyAndFallBack() throws {
        let dir = Repo.temporaryDirectory()
        // The fuzzed vim map extends the real default.
        try FileManager.default.copyItem(at: Repo.keymaps.appendingPathComponent("default.yaml"), to: dir.appendingPathComponent("default.yaml"))
        try expectFuzzedAssetsFailClearly(Repo.keymaps, seed: 66, in: dir) { locator in
            let (layers, error) = locator.keyMap("fuzz")
            return (layers.keyMap == KeyMap.standard, error)
        }
    }
}
