import AgentOSCore
import ConsoleApp
import ConsoleUI
import Foundation

/// Key map files (`keymaps/NAME.yaml`) and the user's overrides, merged in layers.
///
/// ```yaml
/// name: vim
/// extends: default              # the map this one adds to (none: starts empty)
/// bindings:                     # command: keys added to it
///   page_down: [ctrl-d]
///   next_pane: [l, { key: "]", override: true }]   # a key bound elsewhere moves only with override
/// unbind: [w]                   # keys taken away from the maps below
/// actions:                      # per-view action keys instead of the catalog's ("" unbinds)
///   job.cancel: C
/// ```
/// A key bound twice is an error naming both places, unless the later one says `override: true`.
public struct KeyMapLayers: Sendable {
    public private(set) var bindings: [(key: Key, command: Command)] = []
    /// Where each key was bound (`file:line`), for the error about a second binding.
    public private(set) var origin: [Key: String] = [:]
    public private(set) var actionKeys: [String: String] = [:]
    public var name = "default"

    public init() {}

    /// The built-in default, as a layer (keymaps/default.yaml says the same; a test keeps them equal).
    public static var standard: KeyMapLayers {
        var l = KeyMapLayers()
        for b in KeyMap.standard.bindings {
            l.bindings.append(b)
            l.origin[b.key] = "built-in default"
        }
        return l
    }

    public var keyMap: KeyMap { KeyMap(bindings.map { ($0.key, $0.command) }, name: name, actionKeys: actionKeys) }

    /// Adds one file's layer (a key map file, or the `keys:` section of the configuration).
    mutating func apply(_ r: YAMLReader, _ section: YAMLReader.Value, allowExtends: Bool, locator: AssetLocator?, depth: Int) throws(ConfigError) {
        let entries = try r.entries(section, allowed: (allowExtends ? ["name", "description", "extends"] : []) + ["bindings", "unbind", "actions"])
        if allowExtends {
            if let ext = entries.first(where: { r.name($0) == "extends" }) {
                let base = try r.string(ext)
                guard depth < 4 else { throw r.fail(ext, "extends goes deeper than 4 maps (a cycle?)") }
                if base == "default" && locator?.find("default") == nil {
                    self = .standard
                } else {
                    guard let locator, let url = locator.find(base) else { throw r.fail(ext, "no key map named '\(base)'") }
                    self = try KeyMapFile.load(url, locator: locator, depth: depth + 1)
                }
            }
            if let n = entries.first(where: { r.name($0) == "name" }) { name = try r.string(n) }
        }
        if let unbind = entries.first(where: { r.name($0) == "unbind" }) {
            for text in try r.strings(unbind) {
                guard let key = KeyMap.parse(text) else { throw r.fail(unbind, "not a key: '\(text)'") }
                bindings.removeAll { $0.key == key }
                origin[key] = nil
            }
        }
        if let section = entries.first(where: { r.name($0) == "bindings" }) {
            var boundHere: [Key: String] = [:]
            for entry in try r.entries(section) {
                guard let command = Command(name: r.name(entry)) else {
                    throw r.fail(entry, "unknown command (one of: \(Command.all.map(\.name).joined(separator: ", ")))")
                }
                for item in try r.items(entry) {
                    let (text, override) = try keyItem(r, item)
                    guard let key = KeyMap.parse(text) else {
                        throw r.fail(item, "not a key: '\(text)' (a character, space, ctrl-x, enter, esc, tab, shift-tab, up, pgdn, home, F1 …)")
                    }
                    let here = "\(r.file):\(item.line ?? 0)"
                    if let first = boundHere[key] {
                        throw r.fail(item, "key '\(KeyMap.describe(key))' is bound twice in this file (also at \(first))")
                    }
                    if let existing = bindings.first(where: { $0.key == key }) {
                        if existing.command == command {
                            boundHere[key] = here
                            continue
                        }
                        guard override else {
                            throw r.fail(
                                item,
                                "key '\(KeyMap.describe(key))' is already bound to \(existing.command.name) (\(origin[key] ?? "?")); "
                                    + "write { key: \"\(text)\", override: true } to rebind it")
                        }
                        bindings.removeAll { $0.key == key }
                    }
                    bindings.append((key: key, command: command))
                    origin[key] = here
                    boundHere[key] = here
                }
            }
        }
        if let actions = entries.first(where: { r.name($0) == "actions" }) {
            var moved: [String] = []
            for entry in try r.entries(actions) {
                let action = r.name(entry)
                guard ActionCatalog.spec(action) != nil else { throw r.fail(entry, "unknown action '\(action)'") }
                let key = try r.string(entry)
                guard key.count <= 1, key != " " else { throw r.fail(entry, "an action key is one character (or \"\" to unbind), not '\(key)'") }
                actionKeys[action] = key
                moved.append(action)
            }
            // Two actions of one view on one key: the second could never run by its key.
            for action in moved {
                guard let key = actionKeys[action], !key.isEmpty else { continue }
                let view = Self.viewGroup(action)
                let clash = ActionCatalog.all.first { other in
                    other.name != action && Self.viewGroup(other.name) == view && (actionKeys[other.name] ?? other.key) == key
                }
                if let clash, let entry = try r.entries(actions).first(where: { r.name($0) == action }) {
                    throw r.fail(entry, "key '\(key)' is already the key of \(clash.name) in the same view; move that one too")
                }
            }
        }
    }

    /// The actions sharing a view (System Controls shows system.* and database.*).
    static func viewGroup(_ action: String) -> String {
        let prefix = String(action.split(separator: ".").first ?? "")
        return prefix == "database" ? "system" : prefix
    }

    func keyItem(_ r: YAMLReader, _ item: YAMLReader.Value) throws(ConfigError) -> (String, Bool) {
        if case .scalar = item.node { return (try r.string(item), false) }
        var key: String?
        var override = false
        for field in try r.entries(YAMLReader.Value(node: item.node, key: item.key), allowed: ["key", "override"]) {
            if r.name(field) == "key" { key = try r.string(field) } else { override = try r.bool(field) }
        }
        guard let key else { throw r.fail(item, "a binding needs key:") }
        return (key, override)
    }
}

public enum KeyMapFile {
    /// Parses a key map file (with what it extends).
    public static func load(_ url: URL, locator: AssetLocator, depth: Int = 0) throws(ConfigError) -> KeyMapLayers {
        try parse(try locator.read(url), file: url.path, locator: locator, depth: depth)
    }

    public static func parse(_ text: String, file: String, locator: AssetLocator?, depth: Int = 0) throws(ConfigError) -> KeyMapLayers {
        let r = YAMLReader(file: file)
        let root = try r.root(text)
        var layers = KeyMapLayers()
        layers.name = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
        try layers.apply(r, root, allowExtends: true, locator: locator, depth: depth)
        guard !layers.bindings.isEmpty else { throw ConfigError(file: file, line: nil, key: "bindings", "the map binds no key") }
        guard layers.bindings.contains(where: { $0.command == .quit }) else {
            throw ConfigError(file: file, line: nil, key: "bindings.quit", "no key quits the console")
        }
        return layers
    }
}

extension AssetLocator {
    /// Loads a key map by name or path; a missing or bad one gives the built-in default and the error.
    public func keyMap(_ value: String) -> (layers: KeyMapLayers, error: ConfigError?) {
        do throws(ConfigError) {
            return (try loadKeyMap(value), nil)
        } catch {
            return (.standard, error)
        }
    }

    public func loadKeyMap(_ value: String) throws(ConfigError) -> KeyMapLayers {
        guard let url = find(value) else {
            if value == "default" { return .standard }
            throw notFound(value)
        }
        return try KeyMapFile.load(url, locator: self)
    }
}
