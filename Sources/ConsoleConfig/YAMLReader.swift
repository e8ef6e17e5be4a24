import Foundation
import Yams

/// A problem in a configuration, theme or key map file: the file, the line and the key it is
/// about, and what is wrong ("themes/x.yaml:12: tokens.muted.fg: not a colour: 'purplish'").
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var key: String?
    public var message: String

    public init(file: String, line: Int?, key: String?, _ message: String) {
        self.file = file
        self.line = line
        self.key = key
        self.message = message
    }

    public var description: String {
        "\(file)\(line.map { ":\($0)" } ?? ""): \(key.map { "\($0): " } ?? "")\(message)"
    }
}

/// Reads a YAML document with the positions of its keys, so every error names file, line and key.
/// One format for the configuration, the themes and the key maps.
struct YAMLReader {
    let file: String

    /// A value with where it came from.
    struct Value {
        let node: Node
        /// The dotted path from the root (`tokens.muted.fg`), for messages.
        let key: String
        /// The last key itself (may contain dots: `view.jobs`, `job.cancel`).
        var name: String = ""
        var line: Int? { node.mark?.line }
    }

    func fail(_ v: Value?, _ message: String) -> ConfigError {
        ConfigError(file: file, line: v?.line, key: v?.key, message)
    }

    /// The document's root mapping (an empty file is an empty mapping).
    func root(_ text: String) throws(ConfigError) -> Value {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw Self.describe(error, file: file)
        } catch {
            throw ConfigError(file: file, line: 1, key: nil, "not YAML: \(error)")
        }
        let value = Value(node: node ?? Node.mapping(Node.Mapping([])), key: "")
        guard case .mapping = value.node else { throw ConfigError(file: file, line: value.line, key: nil, "expected a mapping of keys at the top") }
        return value
    }

    static func describe(_ error: YamlError, file: String) -> ConfigError {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return ConfigError(file: file, line: mark.line, key: nil, "not valid YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return ConfigError(file: file, line: context.mark.line, key: duplicates.joined(separator: ", "), "key given twice")
        case .reader(let problem, let offset, _, let yaml):
            // The byte offset, as a line.
            let line = offset.map { o in 1 + yaml.utf8.prefix(max(0, o)).filter { $0 == UInt8(ascii: "\n") }.count }
            return ConfigError(file: file, line: line ?? 1, key: nil, "unreadable: \(problem)")
        default:
            return ConfigError(file: file, line: 1, key: nil, "not valid YAML: \(error)")
        }
    }

    /// The entries of a mapping in file order; keys outside `allowed` (when given) are errors.
    func entries(_ v: Value, allowed: [String]? = nil) throws(ConfigError) -> [Value] {
        guard case .mapping(let mapping) = v.node else { throw fail(v, "expected a mapping") }
        var out: [Value] = []
        for (k, value) in mapping {
            guard case .scalar(let s) = k else { throw ConfigError(file: file, line: k.mark?.line, key: v.key, "keys must be plain words") }
            let path = v.key.isEmpty ? s.string : v.key + "." + s.string
            let entry = Value(node: value, key: path, name: s.string)
            if let allowed, !allowed.contains(s.string) {
                throw ConfigError(file: file, line: k.mark?.line, key: path, "unknown key (expected one of: \(allowed.joined(separator: ", ")))")
            }
            out.append(entry)
        }
        return out
    }

    /// The last path component of a value's key.
    func name(_ v: Value) -> String { v.name }

    func string(_ v: Value) throws(ConfigError) -> String {
        guard case .scalar(let s) = v.node else { throw fail(v, "expected a single value") }
        return s.string
    }

    func strings(_ v: Value) throws(ConfigError) -> [String] {
        switch v.node {
        case .scalar(let s): return [s.string]
        case .sequence(let seq):
            var out: [String] = []
            for item in seq {
                guard case .scalar(let s) = item else { throw fail(Value(node: item, key: v.key), "expected a list of single values") }
                out.append(s.string)
            }
            return out
        default: throw fail(v, "expected a value or a list")
        }
    }

    func items(_ v: Value) throws(ConfigError) -> [Value] {
        switch v.node {
        case .sequence(let seq): return seq.map { Value(node: $0, key: v.key) }
        default: return [v]
        }
    }

    /// A mapping as JSON text: plain scalars typed (true/false, integers, numbers), quoted ones strings.
    func json(_ v: Value) throws(ConfigError) -> String {
        guard case .mapping = v.node else { throw fail(v, "expected a mapping") }
        func convert(_ node: Node) throws(ConfigError) -> Any {
            switch node {
            case .mapping(let m):
                var out: [String: Any] = [:]
                for (k, value) in m {
                    guard case .scalar(let key) = k else { throw fail(Value(node: k, key: v.key), "keys must be plain words") }
                    out[key.string] = try convert(value)
                }
                return out
            case .sequence(let seq):
                var out: [Any] = []
                for item in seq { out.append(try convert(item)) }
                return out
            case .scalar(let s):
                guard s.style == .plain || s.style == .any else { return s.string }
                if let b = Self.parseBool(s.string), ["true", "false"].contains(s.string.lowercased()) { return b }
                if let i = Int(s.string) { return i }
                if let d = Double(s.string) { return d }
                return s.string
            case .alias: throw fail(Value(node: node, key: v.key), "aliases are not supported here")
            }
        }
        let object = try convert(v.node)
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else {
            throw fail(v, "cannot be written as JSON")
        }
        return String(decoding: data, as: UTF8.self)
    }

    func bool(_ v: Value) throws(ConfigError) -> Bool {
        guard let b = Self.parseBool(try string(v)) else { throw fail(v, "expected true or false") }
        return b
    }

    static func parseBool(_ s: String) -> Bool? {
        switch s.lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default: return nil
        }
    }

    func number(_ v: Value, in range: ClosedRange<Double>) throws(ConfigError) -> Double {
        let s = try string(v)
        guard let d = Double(s), d.isFinite else { throw fail(v, "expected a number, not '\(s)'") }
        guard range.contains(d) else { throw fail(v, "\(s) is out of range (\(Self.format(range.lowerBound))…\(Self.format(range.upperBound)))") }
        return d
    }

    static func format(_ d: Double) -> String { d == d.rounded() ? String(Int(d)) : String(d) }
}
