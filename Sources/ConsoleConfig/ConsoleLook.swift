import ConsoleApp
import ConsoleUI
import Foundation

/// The theme and key map the settings choose, with what went wrong loading them.
public struct ConsoleLook: Sendable {
    public var theme: Theme
    public var keyMap: KeyMap
    /// Attributes only (--monochrome, NO_COLOR).
    public var monochrome: Bool
    /// What could not be loaded (the defaults stand in), each naming file, line and key.
    public var problems: [ConfigError]

    public static func resolve(_ s: ConsoleSettings, environment: [String: String], monochromeFlag: Bool, executable: URL?) -> ConsoleLook {
        var problems: [ConfigError] = []
        let themes = AssetLocator.standard(kind: "themes", environment: environment, executable: executable)
        var (theme, themeError) = themes.theme(s.theme)
        if let themeError { problems.append(themeError) }
        if let badge = s.effectiveBadge { theme = theme.withBadge(badge) }
        let keymaps = AssetLocator.standard(kind: "keymaps", environment: environment, executable: executable)
        var (layers, keyError) = keymaps.keyMap(s.keymap)
        if let keyError { problems.append(keyError) }
        if let keys = s.keys {
            var merged = layers
            do throws(ConfigError) {
                try ConfigFile.applyKeys(keys, to: &merged)
                layers = merged
            } catch {
                problems.append(error)
            }
        }
        // NO_COLOR (no-color.org): any non-empty value means attributes only.
        let noColor = environment["NO_COLOR"].map { !$0.isEmpty } ?? false
        return ConsoleLook(theme: theme, keyMap: layers.keyMap, monochrome: monochromeFlag || noColor, problems: problems)
    }
}
