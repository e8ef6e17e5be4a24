import ConsoleApp
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

// `hidden_columns:` in the configuration file (issue 20 item 8): per screen, by its palette name,
// the columns its table leaves out. The column picker (`ctrl-w`) rewrites this one section in place;
// every other line of the operator's file (comments, keys, order) stays as written.
extension ConfigFile {
    static let hiddenColumnsKey = "hidden_columns"

    /// `hidden_columns: { jobs: [worker, age], queues: [rate/min] }`: an unknown screen or column is
    /// an error naming its line; hiding every column of a screen is refused.
    static func hiddenColumns(_ r: YAMLReader, _ v: YAMLReader.Value) throws(ConfigError) -> [ViewID: Set<String>] {
        var out: [ViewID: Set<String>] = [:]
        for e in try r.entries(v) {
            guard let screen = App.screen(configName: r.name(e)) else {
                let names = ScreenRegistry.all.map { $0.aliases[0] }.joined(separator: ", ")
                throw r.fail(e, "unknown view '\(r.name(e))' (one of: \(names))")
            }
            let known = App.columnNames(of: screen)
            var hidden = Set<String>()
            for item in try r.items(e) {
                let column = try r.string(item).lowercased()
                guard known.contains(column) else {
                    throw r.fail(item, "unknown column '\(column)' (\(App.configName(of: screen)) has: \(known.joined(separator: ", ")))")
                }
                hidden.insert(column)
            }
            guard hidden.count < known.count else { throw r.fail(e, "every column hidden: leave one shown") }
            if !hidden.isEmpty { out[screen] = hidden }
        }
        return out
    }

    /// Makes the file at `url` say that `screen` hides `columns` (none: the screen's entry goes),
    /// creating the file (0600) when there is none. Only the `hidden_columns:` section is rewritten;
    /// the result is read back before it replaces the file, which keeps its mode.
    public static func saveHiddenColumns(_ screen: ViewID, _ columns: [String], in url: URL) throws(ConfigError) {
        let url = url.resolvingSymlinksInPath()
        let path = url.path
        let known = App.columnNames(of: screen)
        if let unknown = columns.first(where: { !known.contains($0) }) {
            throw ConfigError(
                file: path, line: nil, key: "\(hiddenColumnsKey).\(App.configName(of: screen))",
                "unknown column '\(unknown)' (\(App.configName(of: screen)) has: \(known.joined(separator: ", ")))")
        }
        let existed = FileManager.default.fileExists(atPath: path)
        var text = ""
        if existed {
            do {
                text = try String(contentsOf: url, encoding: .utf8)
            } catch {
                throw ConfigError(file: path, line: nil, key: nil, "cannot read: \((error as NSError).localizedDescription)")
            }
        }
        let (before, others) = try hiddenSection(text, file: path)
        var wanted = before
        wanted[screen] = columns.isEmpty ? nil : Set(columns)
        let edited = replacingHiddenSection(in: text, with: hiddenColumnsBlock(wanted))
        // Read back: the new text must say exactly what was meant and keep every other key.
        let (after, othersAfter) = try hiddenSection(edited, file: path)
        guard after == wanted, othersAfter == others else {
            throw ConfigError(
                file: path, line: nil, key: hiddenColumnsKey,
                "not rewritten: the file is laid out in a way the console does not edit (write the section by hand)")
        }
        try replaceFile(url, with: edited, existed: existed)
    }

    /// The file's `hidden_columns:` as read, and the names of its other top-level keys in order.
    static func hiddenSection(_ text: String, file: String) throws(ConfigError) -> ([ViewID: Set<String>], [String]) {
        let r = YAMLReader(file: file)
        let entries = try r.entries(try r.root(text))
        var hidden: [ViewID: Set<String>] = [:]
        if let section = entries.first(where: { r.name($0) == hiddenColumnsKey }) { hidden = try hiddenColumns(r, section) }
        return (hidden, entries.map { r.name($0) }.filter { $0 != hiddenColumnsKey })
    }

    /// The section as the console writes it: one line per screen, screens and columns in a fixed order.
    static func hiddenColumnsBlock(_ hidden: [ViewID: Set<String>]) -> [String] {
        let rows = hidden.filter { !$0.value.isEmpty }.map { screen, names in
            (App.configName(of: screen), App.columnNames(of: screen).filter(names.contains))
        }.sorted { $0.0 < $1.0 }
        guard !rows.isEmpty else { return [] }
        return ["\(hiddenColumnsKey):   # ctrl-w in a view picks them; the console rewrites this section"]
            + rows.map { "  \($0.0): [\($0.1.map(flowScalar).joined(separator: ", "))]" }
    }

    /// A column name as a YAML flow item: plain when it is words, quoted otherwise (`"rate/min"`).
    static func flowScalar(_ s: String) -> String {
        if !s.isEmpty, s.first != " ", s.last != " ", s.allSatisfy({ $0.isLetter || $0.isNumber || $0 == " " || $0 == "_" }) { return s }
        return "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// Replaces the top-level `hidden_columns:` key and its indented lines with `block` (appended
    /// when absent). Blank lines and comments at the margin after it belong to what follows.
    static func replacingHiddenSection(in text: String, with block: [String]) -> String {
        var lines = text.isEmpty ? [] : text.components(separatedBy: "\n")
        if text.hasSuffix("\n") { lines.removeLast() }
        if let start = lines.firstIndex(where: { $0.hasPrefix(hiddenColumnsKey + ":") }) {
            var end = start + 1
            while end < lines.count, lines[end].isEmpty || lines[end].first == " " || lines[end].first == "\t" { end += 1 }
            while end > start + 1, lines[end - 1].trimmingCharacters(in: .whitespaces).isEmpty { end -= 1 }
            lines.replaceSubrange(start..<end, with: block)
        } else {
            lines += block
        }
        return lines.isEmpty ? "" : lines.joined(separator: "\n") + "\n"
    }

    /// Writes beside the file and renames over it: a reader never sees half a file; the mode stays
    /// (a new file is 0600 in a 0700 directory).
    static func replaceFile(_ url: URL, with text: String, existed: Bool) throws(ConfigError) {
        let fm = FileManager.default
        let path = url.path
        var mode = 0o600
        if existed, let m = (try? fm.attributesOfItem(atPath: path))?[.posixPermissions] as? Int { mode = m }
        let temp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp").path
        do {
            try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            guard fm.createFile(atPath: temp, contents: Data(text.utf8), attributes: [.posixPermissions: mode]) else {
                throw ConfigError(file: path, line: nil, key: hiddenColumnsKey, "cannot write \(temp)")
            }
            try fm.setAttributes([.posixPermissions: mode], ofItemAtPath: temp)
            guard rename(temp, path) == 0 else {
                throw ConfigError(file: path, line: nil, key: hiddenColumnsKey, "cannot replace: \(String(cString: strerror(errno)))")
            }
        } catch let error as ConfigError {
            unlink(temp)
            throw error
        } catch {
            unlink(temp)
            throw ConfigError(file: path, line: nil, key: hiddenColumnsKey, "cannot write: \((error as NSError).localizedDescription)")
        }
    }
}
