import ConsoleConfig
import Foundation

enum Repo {
    /// The repository root (Tests/ConsoleConfigTests/Support.swift → ../..).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let themes = root.appendingPathComponent("themes")
    static let keymaps = root.appendingPathComponent("keymaps")

    static func files(_ dir: URL) -> [URL] {
        ((try? FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)) ?? [])
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

/// A small deterministic generator for the fuzzed files (SplitMix64).
struct Fuzz: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    static let junk: [String] = ["{", "}", "[", "]", ":", "- ", "\t", "'", "\"", "&a", "*a", "!!binary", "#", "%", "@", "`", "|", ">",
                                 "\u{1b}[31m", "\u{0}", "\u{202E}", "é", "999", "-1", "#zzzzzz", "bold", "purple", "null", "~", "\n  ", "\n- x: y"]

    /// One mutation of `text`: delete, insert junk, duplicate or swap a line, cut the file, replace a value.
    mutating func mutate(_ text: String) -> String {
        var lines = text.components(separatedBy: "\n")
        guard !lines.isEmpty else { return text }
        let i = Int.random(in: 0..<lines.count, using: &self)
        switch Int.random(in: 0..<7, using: &self) {
        case 0:
            var chars = Array(lines[i])
            if !chars.isEmpty { chars.remove(at: Int.random(in: 0..<chars.count, using: &self)) }
            lines[i] = String(chars)
        case 1:
            var chars = Array(lines[i])
            let junk = Self.junk.randomElement(using: &self)!
            chars.insert(contentsOf: junk, at: Int.random(in: 0...chars.count, using: &self))
            lines[i] = String(chars)
        case 2:
            lines.insert(lines[i], at: i)
        case 3:
            let j = Int.random(in: 0..<lines.count, using: &self)
            lines.swapAt(i, j)
        case 4:
            lines = Array(lines.prefix(i))
        case 5:
            if let colon = lines[i].lastIndex(of: ":") {
                lines[i] = String(lines[i][...colon]) + " " + Self.junk.randomElement(using: &self)!
            }
        default:
            lines[i] = "  " + lines[i]
        }
        return lines.joined(separator: "\n")
    }
}
