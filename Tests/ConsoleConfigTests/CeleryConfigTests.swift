import ConsoleConfig
import Foundation
import Testing

/// The configuration file's `celery:` section (Celery's transport options), its layers and errors.
@Suite struct CeleryConfigTests {
    func write(_ text: String) throws -> URL {
        let url = Repo.temporaryDirectory().appendingPathComponent("celery-config.yaml")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    @Test func mappingBecomesJSONWithTypedScalars() throws {
        let file = try write(
            """
            celery:
              global_keyprefix: "prod:"
              fanout_patterns: true
              priority_steps: [0, 3, 6, 9]
              reply_timeout: 1.5
              confirm_timeout: 4
              queues: [video_downloader, celery]
              sep: '7'
            """)
        let s = try SettingsLoader.load(configFlag: file.path, environment: [:], flags: SettingsLayer(origin: "flag"))
        let json = try #require(s.celery)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(parsed["global_keyprefix"] as? String == "prod:")
        #expect(parsed["priority_steps"] as? [Int] == [0, 3, 6, 9])
        #expect(parsed["reply_timeout"] as? Double == 1.5)
        #expect(parsed["confirm_timeout"] as? Int == 4) // D67: read by CeleryTransport(options:)
        #expect(parsed["queues"] as? [String] == ["video_downloader", "celery"])
        #expect(parsed["sep"] as? String == "7") // quoted: a string
        #expect(json.contains("\"fanout_patterns\":true"))
        #expect(s.origins["celery"] == file.path)
        // The environment beats the file, a flag beats both.
        let env = try SettingsLoader.load(configFlag: file.path, environment: ["AGENTOS_CELERY": "{}"], flags: SettingsLayer(origin: "flag"))
        #expect(env.celery == "{}" && env.origins["celery"] == "env")
        var flags = SettingsLayer(origin: "flag")
        flags.celery = #"{"broker_db": 3}"#
        #expect(try SettingsLoader.load(configFlag: file.path, environment: ["AGENTOS_CELERY": "{}"], flags: flags).celery == #"{"broker_db": 3}"#)
    }

    @Test func aListIsRefusedWithFileLineAndKey() throws {
        let file = try write(
            """
            namespace: x
            celery: [1, 2]
            """)
        do {
            _ = try SettingsLoader.load(configFlag: file.path, environment: [:], flags: SettingsLayer(origin: "flag"))
            Issue.record("accepted a list")
        } catch {
            #expect("\(error)".contains("celery-config.yaml:2") && "\(error)".contains("celery"), "\(error)")
        }
    }
}
