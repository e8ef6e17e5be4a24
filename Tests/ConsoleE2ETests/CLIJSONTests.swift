import Foundation
import Testing

/// The listing commands speak JSON for scripts (`--json`), with the same exit codes as their text.
@Suite("CLI JSON output")
struct CLIJSONTests {
    static var binary: String { ProcessInfo.processInfo.environment["AGENTOS_BINARY"] ?? TmuxSession.binary }

    func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text)")
    }

    /// Every subcommand takes `--celery` (D77): those whose answer Celery changes honour it (can-i
    /// says which actions Celery's remote control runs); the others refuse it with the reason, and
    /// the embedded snapshot (no Celery there) says so, rather than ignore it.
    @Test func celeryOptionIsRefusedWhereItWouldBeIgnored() throws {
        let canI = try Spawned.run([Self.binary, "can-i", "job.cancel", "--celery", "{}"])
        #expect(canI.status == 0 && canI.stdout.contains("Celery's remote control runs it"), "\(canI.status) \(canI.stdout) \(canI.stderr)")
        for argv in [["audit", "verify"], ["audit", "tail"], ["migrate"], ["sim"]] {
            let r = try Spawned.run([Self.binary] + argv + ["--celery", "{}"])
            #expect(
                r.status == 64 && r.stderr.contains("--celery has no meaning for `agentos \(argv.joined(separator: " "))`"),
                "\(argv): \(r.status) \(r.stderr)")
        }
        let embedded = try Spawned.run([Self.binary, "snapshot", "--json", "--celery", "{}"])
        #expect(embedded.status == 64 && embedded.stderr.contains("--celery needs the live backend"), "\(embedded.stderr)")
        let bad = try Spawned.run([Self.binary, "snapshot", "--celery", "{\"reply_timeout\": 0}", "--redis", "redis://127.0.0.1:1", "--postgres", "x"]
        )
        #expect(bad.status == 78 && bad.stderr.contains("reply timeout"), "\(bad.stderr)")
    }

    @Test func canIListsTheCatalogAndDecidesAsJSON() throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("agentos-cli-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: data) }
        let env = ["AGENTOS_DATA_DIR": data.path]
        let list = try Spawned.run([Self.binary, "can-i", "--list", "--json"], environment: env)
        #expect(list.status == 0, "\(list.stderr)")
        let actions = try #require(try json(list.stdout)["actions"] as? [[String: Any]])
        #expect(actions.count == 83)
        let clear = try #require(actions.first { $0["action"] as? String == "queue.clear" })
        #expect(clear["risk"] as? String == "critical" && clear["allowed"] as? Bool == true && clear["key"] as? String == "C")

        let one = try Spawned.run([Self.binary, "can-i", "job.cancel", "--json"], environment: env)
        let decision = try json(one.stdout)
        #expect(one.status == 0 && decision["allowed"] as? Bool == true)
        let unknown = try Spawned.run([Self.binary, "can-i", "job.explode", "--json"], environment: env)
        #expect(unknown.status == 65 && unknown.stderr.contains("unknown action"))

        // The embedded audit chain (empty here) verifies, as JSON.
        let verify = try Spawned.run([Self.binary, "audit", "verify", "--json"], environment: env)
        #expect(verify.status == 0)
        let finding = try json(verify.stdout)
        #expect(finding["ok"] as? Bool == true && finding["rows"] as? Int == 0)
    }

    /// `agentos action … --dry-run` checks a payload with no backend (issue 20, item 9): with no
    /// servers configured it answers, valid or not, contacting nothing. Pointed at servers (that do
    /// not exist here) it previews (item 7, D62): the payload's answer still comes, an invalid one
    /// before any server is asked, and the preview that could not be had says so.
    @Test func actionDryRunChecksThePayloadWithNoBackend() throws {
        let nowhere = ["--redis", "redis://127.0.0.1:1/0", "--postgres", "postgresql://agentos@127.0.0.1:1/agentos"]
        let id = UUID().uuidString.lowercased()
        let ok = try Spawned.run([Self.binary, "action", "job.cancel", "id=\(id)", "--dry-run", "--json"])
        #expect(ok.status == 0, "\(ok.stderr)")
        let answer = try json(ok.stdout)
        #expect(answer["valid"] as? Bool == true && answer["target"] as? String == id && answer["risk"] as? String != nil)
        let bad = try Spawned.run([Self.binary, "action", "job.cancel", "id=abc", "--dry-run"] + nowhere)
        #expect(bad.status == 65 && bad.stderr.contains("id: 'abc' is not a UUID"), "\(bad.stderr)")
        let critical = try Spawned.run([Self.binary, "action", "queue.clear", "queue=video_cutter", "--dry-run"])
        #expect(critical.status == 0 && critical.stdout.contains("a real run also needs --yes --reason"), "\(critical.stdout)")
        #expect(critical.stdout.contains("dry run: nothing was sent, no backend was contacted"))
        let unreachable = try Spawned.run([Self.binary, "action", "queue.clear", "queue=video_cutter", "--dry-run"] + nowhere)
        #expect(unreachable.stdout.contains("valid: queue.clear"), "\(unreachable.stdout)")
        // Its audit trail is out of reach too: nothing is shown that could not be recorded (exit 7).
        #expect(unreachable.status == 7 && unreachable.stderr.contains("no preview:"), "\(unreachable.status) \(unreachable.stderr)")
        // Without --dry-run the same command needs the servers, and there are none.
        let real = try Spawned.run([Self.binary, "action", "job.cancel", "id=\(id)"] + nowhere)
        #expect(real.status != 0)
    }

    /// `can-i --list` is a table: every row's decision, view and risk start under their headers.
    @Test func canIListIsAnAlignedTable() throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("agentos-cli-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: data) }
        let out = try Spawned.run([Self.binary, "can-i", "--list"], environment: ["AGENTOS_DATA_DIR": data.path])
        #expect(out.status == 0)
        let lines = out.stdout.split(separator: "\n").map(String.init)
        let header = try #require(lines.firstIndex { $0.hasPrefix("ACTION") })
        let columns = ["ALLOWED", "VIEW", "RISK", "FIELDS"].compactMap { lines[header].range(of: $0)?.lowerBound.utf16Offset(in: lines[header]) }
        let rows = lines[(header + 1)...]
        #expect(columns.count == 4 && rows.count == 83)
        for row in rows {
            let chars = Array(row)
            for column in columns.dropLast() {
                #expect(column < chars.count && chars[column] != " " && chars[column - 1] == " ", "misaligned at \(column): \(row)")
            }
        }
    }

    /// Completions offer the names (issue 20, item 9): actions, views, and the themes and key maps
    /// the console finds (asked of the binary when Tab is pressed).
    @Test func completionsOfferActionViewThemeAndKeyMapNames() throws {
        let bash = try Spawned.run([Self.binary, "--generate-completion-script", "bash"])
        #expect(bash.status == 0)
        for name in ["queue.clear", "job.cancel", "system.audit_verify", "dashboard", "analytics"] {
            #expect(bash.stdout.contains(name), "\(name) is not offered")
        }
        let themes = try Spawned.run([Self.binary, "---completion", "console", "--", "--theme", "0", "0"])
        #expect(Set(themes.stdout.split(separator: "\n").map(String.init)).isSuperset(of: ["default", "light", "high-contrast", "monochrome"]))
        let keymaps = try Spawned.run([Self.binary, "---completion", "console", "--", "--keymap", "0", "0"])
        #expect(Set(keymaps.stdout.split(separator: "\n").map(String.init)).isSuperset(of: ["default", "vim"]), "\(keymaps.stdout)")
    }
}
