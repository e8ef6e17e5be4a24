import ConsoleApp
import ConsoleConfig
import Foundation
import Testing

/// Column toggles remembered per view in the configuration file (issue 20 item 8): the column
/// picker rewrites only `hidden_columns:`, the operator's comments and other keys stay, and what it
/// writes loads back; a bad entry names file, line and key.
@Suite struct HiddenColumnsConfigTests {
    func file(_ text: String?, mode: Int = 0o600) throws -> URL {
        let url = Repo.temporaryDirectory().appendingPathComponent("config.yaml")
        if let text {
            try text.write(to: url, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: url.path)
        }
        return url
    }

    func load(_ url: URL) throws -> ConsoleSettings {
        try SettingsLoader.load(configFlag: url.path, environment: [:], flags: SettingsLayer(origin: "flag"))
    }

    @Test func theSectionIsRewrittenInPlaceAndLoadsBack() throws {
        let original = """
            # my console
            theme: light          # the bright one
            hidden_columns:
              jobs: [age]
              # a note inside the section
              queues: [oldest]

            # the views the wallboard shows
            wallboard:
              views: [dashboard, workers]
            """ + "\n"
        let url = try file(original, mode: 0o640)
        #expect(try load(url).hiddenColumns == [.jobs: ["age"], .queues: ["oldest"]])

        try ConfigFile.saveHiddenColumns(.jobs, ["worker", "age"], in: url)
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(
            text == """
                # my console
                theme: light          # the bright one
                hidden_columns:   # ctrl-w in a view picks them; the console rewrites this section
                  jobs: [worker, age]
                  queue: [oldest]

                # the views the wallboard shows
                wallboard:
                  views: [dashboard, workers]
                """ + "\n")
        let settings = try load(url)
        #expect(settings.hiddenColumns == [.jobs: ["worker", "age"], .queues: ["oldest"]])
        #expect(settings.theme == "light" && settings.wallboardViews == [.dashboard, .workers])
        #expect((try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? Int) == 0o640, "the mode stays")

        // Showing every column again removes the screen; the last screen takes the section with it.
        try ConfigFile.saveHiddenColumns(.jobs, [], in: url)
        try ConfigFile.saveHiddenColumns(.queues, [], in: url)
        #expect(
            try String(contentsOf: url, encoding: .utf8) == """
                # my console
                theme: light          # the bright one

                # the views the wallboard shows
                wallboard:
                  views: [dashboard, workers]
                """ + "\n")
        #expect(try load(url).hiddenColumns.isEmpty)
    }

    @Test func aMissingFileIsCreatedPrivateAndNamesNeedingQuotesAreQuoted() throws {
        let url = try file(nil).deletingLastPathComponent().appendingPathComponent("agentos/config.yaml")
        try ConfigFile.saveHiddenColumns(.queues, ["rate/min", "failed"], in: url)
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(text.hasSuffix("\n  queue: [failed, \"rate/min\"]\n"), "\(text)")
        #expect((try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? Int) == 0o600)
        #expect(try load(url).hiddenColumns == [.queues: ["rate/min", "failed"]])
        // A file without a final newline keeps its last line whole.
        let bare = try file("theme: light")
        try ConfigFile.saveHiddenColumns(.retries, ["in"], in: bare)
        #expect(try load(bare).hiddenColumns == [.retries: ["in"]] && load(bare).theme == "light")
    }

    @Test func badEntriesNameFileLineAndKey() throws {
        // line | key | part of the message | the file (\n: a line break)
        let cases = Refusal.table(
            #"""
            3 | hidden_columns.jobs | unknown column 'colour' | theme: light\nhidden_columns:\n  jobs: [age, colour]\n
            2 | hidden_columns.kitchen | unknown view 'kitchen' | hidden_columns:\n  kitchen: [age]\n
            2 | hidden_columns.logs | every column hidden | hidden_columns:\n  logs: [time, level, source, message]\n
            1 | hidden_columns | expected a mapping | hidden_columns: [age]\n
            2 | hidden_columns.jobs | expected a single value | hidden_columns:\n  jobs: [{a: 1}]\n
            """#)
        #expect(cases.count == 5, "every row of the table is a case")
        var url = URL(fileURLWithPath: "/")
        expectRefusals(cases) { text in
            url = try file(text)
            _ = try ConfigFile.load(url, environment: [:])
        } also: { error, c in
            #expect(error.file == url.path && error.description.hasPrefix("\(url.path):\(c.line): \(c.key): "), "\(error)")
        }
        // The picker refuses to write over a bad section, naming it the same way, and changes nothing.
        let bad = try file("hidden_columns:\n  jobs: [age, colour]\n")
        #expect {
            try ConfigFile.saveHiddenColumns(.jobs, ["age"], in: bad)
        } throws: { error in
            "\(error)".hasPrefix("\(bad.path):2: hidden_columns.jobs: unknown column 'colour'")
        }
        #expect(try String(contentsOf: bad, encoding: .utf8) == "hidden_columns:\n  jobs: [age, colour]\n")
    }
}
