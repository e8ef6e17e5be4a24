import ConsoleConfig
import Foundation

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
