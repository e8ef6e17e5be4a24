import ConsoleUI
import Foundation

/// Theme files (`themes/NAME.yaml`): the semantic tokens mapped to colours.
///
/// ```yaml
/// name: light
/// canvas: "#ffffff"            # optional: background of unstyled cells
/// monochrome: false            # true: attributes only
/// tokens:
///   muted: { fg: 244, fg16: bright-black, fg8: white, attrs8: dim, mono: dim }
///   badge: { fg: "#ffffff", bg: "#005faf", mono: [reverse, bold] }
/// ```
/// Tokens a file leaves out look as in the built-in default.
public enum ThemeFile {
    static let tokenKeys = ["fg", "bg", "fg16", "bg16", "fg8", "bg8", "attrs", "attrs8", "mono"]

    public static func parse(_ text: String, file: String) throws(ConfigError) -> Theme {
        let r = YAMLReader(file: file)
        let root = try r.root(text)
        var theme = Theme.builtinDefault
        theme.name = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
        theme.description = ""
        var sawTokens = false
        for entry in try r.entries(root, allowed: ["name", "description", "monochrome", "canvas", "tokens"]) {
            switch r.name(entry) {
            case "name": theme.name = try r.string(entry)
            case "description": theme.description = try r.string(entry)
            case "monochrome": theme.monochrome = try r.bool(entry)
            case "canvas": theme.canvas = try color(r, entry, limit: 256)
            default:
                sawTokens = true
                for tokenEntry in try r.entries(entry, allowed: ThemeToken.allCases.map(\.rawValue)) {
                    let token = ThemeToken(rawValue: r.name(tokenEntry))!
                    theme[token] = try tokenStyle(r, tokenEntry)
                }
            }
        }
        if !sawTokens && !theme.monochrome { throw ConfigError(file: file, line: nil, key: "tokens", "missing: a theme maps tokens to colours") }
        return theme
    }

    static func tokenStyle(_ r: YAMLReader, _ v: YAMLReader.Value) throws(ConfigError) -> TokenStyle {
        var s = TokenStyle()
        for field in try r.entries(v, allowed: tokenKeys) {
            switch r.name(field) {
            case "fg": s.fg = try color(r, field, limit: 256)
            case "bg": s.bg = try color(r, field, limit: 256)
            case "fg16": s.fg16 = try color(r, field, limit: 16)
            case "bg16": s.bg16 = try color(r, field, limit: 16)
            case "fg8": s.fg8 = try color(r, field, limit: 8)
            case "bg8": s.bg8 = try color(r, field, limit: 8)
            case "attrs": s.attrs = try attributes(r, field)
            case "attrs8": s.attrs8 = try attributes(r, field)
            default: s.mono = try attributes(r, field)
            }
        }
        return s
    }

    /// A colour: a name, `#rrggbb`, an index below `limit`, or `default`.
    static func color(_ r: YAMLReader, _ v: YAMLReader.Value, limit: Int) throws(ConfigError) -> ThemeColor {
        let text = try r.string(v)
        guard let c = ThemeColor(parsing: text) else {
            throw r.fail(v, "not a colour: '\(text)' (a name like bright-blue, #rrggbb, 0-255 or default)")
        }
        if limit < 256 {
            guard case .index(let i) = c, i < limit else {
                if c == .terminalDefault { return c }
                throw r.fail(v, "'\(text)' is not one of the first \(limit) colours (use a name or 0-\(limit - 1))")
            }
        }
        return c
    }

    static func attributes(_ r: YAMLReader, _ v: YAMLReader.Value) throws(ConfigError) -> TextAttributes {
        var attrs: TextAttributes = []
        for name in try r.strings(v) where !name.isEmpty && name != "none" {
            guard let a = TextAttributes.named.first(where: { $0.0 == name.lowercased() })?.1 else {
                throw r.fail(v, "unknown attribute '\(name)' (one of: \(TextAttributes.named.map(\.0).joined(separator: ", ")))")
            }
            attrs.insert(a)
        }
        return attrs
    }
}

/// Where theme and key map files are found: `NAME` is looked up as `NAME.yaml` in the user's
/// directory, then the installed share directory, then the source tree a development build runs
/// from; a value with a slash or a `.yaml` suffix is a path.
public struct AssetLocator: Sendable {
    /// `themes` or `keymaps`.
    public var kind: String
    public var directories: [URL]

    public init(kind: String, directories: [URL]) {
        self.kind = kind
        self.directories = directories
    }

    /// `$XDG_CONFIG_HOME/agentos/KIND`, `$AGENTOS_SHARE_DIR/KIND`, `<bin>/../share/agentos/KIND`, and the
    /// nearest `KIND/` above the executable (a build inside the source tree).
    public static func standard(kind: String, environment: [String: String], executable: URL?) -> AssetLocator {
        var dirs: [URL] = [Paths.configHome(environment).appendingPathComponent("agentos/\(kind)")]
        if let share = environment["AGENTOS_SHARE_DIR"], !share.isEmpty { dirs.append(URL(fileURLWithPath: share).appendingPathComponent(kind)) }
        if let exe = executable?.resolvingSymlinksInPath() {
            let bin = exe.deletingLastPathComponent()
            dirs.append(bin.deletingLastPathComponent().appendingPathComponent("share/agentos/\(kind)"))
            var dir = bin
            while dir.path != "/" && !dir.path.isEmpty {
                let candidate = dir.appendingPathComponent(kind)
                if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("default.yaml").path) {
                    dirs.append(candidate)
                    break
                }
                dir = dir.deletingLastPathComponent()
            }
        }
        return AssetLocator(kind: kind, directories: dirs)
    }

    public static func isPath(_ value: String) -> Bool { value.contains("/") || value.hasSuffix(".yaml") || value.hasSuffix(".yml") }

    /// The file for `value`, or nil when no directory has it.
    public func find(_ value: String) -> URL? {
        if Self.isPath(value) { return URL(fileURLWithPath: (value as NSString).expandingTildeInPath) }
        for dir in directories {
            let url = dir.appendingPathComponent("\(value).yaml")
            if FileManager.default.fileExists(atPath: url.path) { return url }
        }
        return nil
    }

    /// Every name found, sorted.
    public func names() -> [String] {
        var names = Set<String>()
        for dir in directories {
            for f in (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [] where f.hasSuffix(".yaml") {
                names.insert(String(f.dropLast(5)))
            }
        }
        return names.sorted()
    }

    func read(_ url: URL) throws(ConfigError) -> String {
        do {
            let data = try Data(contentsOf: url)
            guard let text = String(data: data, encoding: .utf8) else {
                throw ConfigError(file: url.path, line: nil, key: nil, "not UTF-8 text")
            }
            return text
        } catch let e as ConfigError {
            throw e
        } catch {
            throw ConfigError(file: url.path, line: nil, key: nil, "cannot read: \((error as NSError).localizedDescription)")
        }
    }

    func notFound(_ value: String) -> ConfigError {
        ConfigError(
            file: value, line: nil, key: nil,
            "no \(kind.dropLast()) named '\(value)' (looked in \(directories.map(\.path).joined(separator: ", ")))")
    }
}

extension AssetLocator {
    /// Loads a theme; a missing or bad one gives the built-in default and the error to report.
    public func theme(_ value: String) -> (theme: Theme, error: ConfigError?) {
        do throws(ConfigError) {
            return (try loadTheme(value), nil)
        } catch {
            return (.builtinDefault, error)
        }
    }

    public func loadTheme(_ value: String) throws(ConfigError) -> Theme {
        guard let url = find(value) else {
            if value == "default" { return .builtinDefault }
            throw notFound(value)
        }
        return try ThemeFile.parse(try read(url), file: url.path)
    }
}

/// The XDG base directories.
public enum Paths {
    static func home(_ env: [String: String]) -> URL {
        URL(fileURLWithPath: env["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory())
    }

    /// `$XDG_CONFIG_HOME`, else `~/.config`.
    public static func configHome(_ env: [String: String]) -> URL {
        if let x = env["XDG_CONFIG_HOME"], x.hasPrefix("/") { return URL(fileURLWithPath: x) }
        return home(env).appendingPathComponent(".config")
    }

    /// `$XDG_STATE_HOME`, else `~/.local/state`.
    public static func stateHome(_ env: [String: String]) -> URL {
        if let x = env["XDG_STATE_HOME"], x.hasPrefix("/") { return URL(fileURLWithPath: x) }
        return home(env).appendingPathComponent(".local/state")
    }

    /// `$XDG_CONFIG_HOME/agentos/config.yaml`.
    public static func defaultConfigFile(_ env: [String: String]) -> URL {
        configHome(env).appendingPathComponent("agentos/config.yaml")
    }

    /// `$XDG_STATE_HOME/agentos/palette_history`: the command palette's history, one command a line.
    public static func paletteHistoryFile(_ env: [String: String]) -> URL {
        stateHome(env).appendingPathComponent("agentos/palette_history")
    }

    /// `$XDG_STATE_HOME/agentos/agentos.log`.
    public static func defaultLogFile(_ env: [String: String]) -> URL {
        stateHome(env).appendingPathComponent("agentos/agentos.log")
    }
}
