import AgentOSTestSupport
import ConsoleConfig
import Foundation
import Testing

enum Repo {
    /// The repository root (Tests/ConsoleConfigTests/Support.swift → ../..).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let themes = root.appendingPathComponent("themes")
    static let keymaps = root.appendingPathComponent("keymaps")

    static func files(_ dir: URL) throws -> [URL] {
        try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "yaml" }.sorted { $0.path < $1.path }
    }

    /// Only the shipped folders: no user directory, no environment.
    static let themeLocator = AssetLocator(kind: "themes", directories: [themes])
    static let keymapLocator = AssetLocator(kind: "keymaps", directories: [keymaps])

    static func temporaryDirectory() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("agentos-config-\(UUID().uuidString.prefix(8))")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// A file the loaders must refuse, and what the error must name: the line (0 when the problem has
/// no line, e.g. a key that is missing), the key and a part of the message.
struct Refusal {
    var text: String
    var line: Int
    var key: String
    var message: String
    init(_ text: String, _ line: Int, _ key: String, _ message: String) {
        (self.text, self.line, self.key, self.message) = (text, line, key, message)
    }

    /// Cases written one a line as `line | key | part of the message | the file`, the file with `\n`
    /// for its line breaks (a raw string keeps them as written).
    static func table(_ rows: String) -> [Refusal] {
        rows.split(separator: "\n").map { row in
            let cell = row.split(separator: "|", maxSplits: 3).map { $0.trimmingCharacters(in: .whitespaces) }
            precondition(cell.count == 4, "not a refusal row: \(row)")
            return Refusal(cell[3].replacingOccurrences(of: "\\n", with: "\n"), Int(cell[0])!, cell[1], cell[2])
        }
    }
}

/// Loads each case and checks that it is refused with an error naming its line, key and problem;
/// `also` checks what a loader adds (e.g. the file's path).
func expectRefusals(
    _ cases: [Refusal], load: (String) throws -> Void, also: (ConfigError, Refusal) -> Void = { _, _ in },
    sourceLocation: SourceLocation = #_sourceLocation
) {
    for c in cases {
        do {
            try load(c.text)
            Issue.record("accepted: \(c.text)", sourceLocation: sourceLocation)
        } catch let error as ConfigError {
            if c.line > 0 { #expect(error.line == c.line, "\(error)", sourceLocation: sourceLocation) }
            #expect(error.key == c.key && error.message.contains(c.message), "\(error)", sourceLocation: sourceLocation)
            also(error, c)
        } catch {
            Issue.record("not a ConfigError: \(error)", sourceLocation: sourceLocation)
        }
    }
}

/// The asset fuzzers' check: mutants of every shipped file in `shipped` (themes or keymaps), each
/// written to `dir` as `fuzz.yaml` and loaded by `load`. A refused file must be named with a line or a
/// key, and the locator must hand out the fallback; the mutations must break at least a quarter of
/// the files, or the test would prove nothing.
func expectFuzzedAssetsFailClearly(
    _ shipped: URL, seed: UInt64, in dir: URL, load: (AssetLocator) -> (fellBack: Bool, error: ConfigError?),
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    var rng = Fuzz(seed: seed)
    let path = dir.appendingPathComponent("fuzz.yaml")
    let originals = try Repo.files(shipped).map { try String(contentsOf: $0, encoding: .utf8) }
    let locator = AssetLocator(kind: shipped.lastPathComponent, directories: [dir])
    let (total, refused) = try rng.fuzzFiles(originals, each: 250, at: path) { text in
        let (fellBack, error) = load(locator)
        guard let error else { return false }
        #expect(fellBack, "\(error)", sourceLocation: sourceLocation)
        #expect(error.file == path.path && error.description.hasPrefix(path.path), "\(error)", sourceLocation: sourceLocation)
        #expect(error.line != nil || error.key != nil, "no line nor key: \(error)\n\(text)", sourceLocation: sourceLocation)
        return true
    }
    #expect(refused > total / 4, "\(refused) of \(total) mutated files were refused", sourceLocation: sourceLocation)
}
