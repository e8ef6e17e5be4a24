import Foundation

/// Why a value does not fit its key.
public struct ConfigProblem: Error, Sendable {
    public var why: String
    public init(_ why: String) { self.why = why }
}

/// Typing and range checks of configuration values (config.set, import, validate, rollback).
public enum ConfigCheck {
    /// `constraints`: `min`/`max` (numbers; seconds for durations), `allowed` or `choices`, `pattern`.
    public struct Rules: Decodable, Sendable {
        public var min: Double?
        public var max: Double?
        public var choices: [String]?
        public var pattern: String?

        private enum Keys: String, CodingKey { case min, max, allowed, choices, pattern }

        public init() {}

        /// The rules of an entry as the snapshot and the simulator hold them.
        public init(_ c: ConfigConstraints) {
            min = c.min
            max = c.max
            choices = c.allowed
            pattern = c.pattern
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: Keys.self)
            min = try? c.decodeIfPresent(Double.self, forKey: .min)
            max = try? c.decodeIfPresent(Double.self, forKey: .max)
            let list =
                (try? c.decodeIfPresent([ConfigValue].self, forKey: .allowed)) ?? (try? c.decodeIfPresent([ConfigValue].self, forKey: .choices))
            choices = list.map { $0.map(\.description) }
            pattern = try? c.decodeIfPresent(String.self, forKey: .pattern)
        }
    }

    public static func decode(_ json: String) throws -> ConfigValue { try JSONDecoder().decode(ConfigValue.self, from: Data(json.utf8)) }

    public static func json(_ v: ConfigValue) -> String {
        switch v {
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .bool(let b): return b ? "true" : "false"
        case .string(let s): return CanonicalJSON.string(s)
        }
    }

    public static func show(_ v: ConfigValue) -> String { TextSanitizer.clean(String(v.description.prefix(80))) }

    /// Text typed by the operator, as the entry's type.
    public static func parse(_ text: String, _ type: ConfigType, _ rules: Rules) throws(ConfigProblem) -> ConfigValue {
        let t = text.trimmingCharacters(in: .whitespaces)
        let shown = "'\(TextSanitizer.clean(String(t.prefix(60))))'"
        switch type {
        case .int:
            guard let i = Int(t) else { throw ConfigProblem("\(shown) is not an integer") }
            try range(Double(i), rules)
            return .int(i)
        case .float:
            guard let d = Double(t), d.isFinite else { throw ConfigProblem("\(shown) is not a number") }
            try range(d, rules)
            return .double(d)
        case .bool:
            switch t.lowercased() {
            case "true", "yes", "on", "1": return .bool(true)
            case "false", "no", "off", "0": return .bool(false)
            default: throw ConfigProblem("\(shown) is not a boolean (true or false)")
            }
        case .string:
            try choice(text, rules)
            try pattern(text, rules)
            return .string(text)
        case .enum:
            try choice(t, rules)
            return .string(t)
        case .duration:
            guard let seconds = durationSeconds(t) else { throw ConfigProblem("\(shown) is not a duration like 500ms, 30s, 5m, 1h or 1d") }
            try pattern(t, rules)
            try range(seconds, rules, unit: " s")
            return .string(t)
        case .cron:
            guard case .cron? = Schedule.parse(t) else { throw ConfigProblem("\(shown) is not a 5-field cron expression") }
            return .string(t)
        }
    }

    /// A JSON value (import file, history) as the entry's type; strings are read like typed text.
    public static func coerce(_ v: ConfigValue, _ type: ConfigType, _ rules: Rules) throws(ConfigProblem) -> ConfigValue {
        switch (type, v) {
        case (_, .string(let s)): return try parse(s, type, rules)
        case (.int, .int(let i)):
            try range(Double(i), rules)
            return .int(i)
        case (.int, .double(let d)) where d == d.rounded() && abs(d) < 9e15:
            try range(d, rules)
            return .int(Int(d))
        case (.float, .int(let i)):
            try range(Double(i), rules)
            return .double(Double(i))
        case (.float, .double(let d)):
            try range(d, rules)
            return .double(d)
        case (.bool, .bool): return v
        default:
            let expected = [ConfigType.int: "an integer", .float: "a number", .bool: "true or false"][type] ?? "a string"
            throw ConfigProblem("expected \(expected) (\(type.rawValue)), got \(TextSanitizer.clean(String(json(v).prefix(60))))")
        }
    }

    /// A bound as it is shown: whole numbers without a fraction.
    static func number(_ d: Double) -> String { d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d) }

    static func range(_ x: Double, _ rules: Rules, unit: String = "") throws(ConfigProblem) {
        if let lo = rules.min, x < lo { throw ConfigProblem("\(number(x))\(unit) is below the minimum \(number(lo))\(unit)") }
        if let hi = rules.max, x > hi { throw ConfigProblem("\(number(x))\(unit) is above the maximum \(number(hi))\(unit)") }
    }

    static func choice(_ s: String, _ rules: Rules) throws(ConfigProblem) {
        guard let choices = rules.choices, !choices.contains(s) else { return }
        throw ConfigProblem(
            "'\(TextSanitizer.clean(String(s.prefix(60))))' is not one of \(choices.map { TextSanitizer.clean($0) }.joined(separator: ", "))")
    }

    static func pattern(_ s: String, _ rules: Rules) throws(ConfigProblem) {
        guard let p = rules.pattern, let re = try? NSRegularExpression(pattern: p) else { return }
        guard re.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil else {
            throw ConfigProblem("'\(TextSanitizer.clean(String(s.prefix(60))))' does not match \(TextSanitizer.clean(p))")
        }
    }

    /// `500ms`, `30s`, `5m`, `1h`, `1d` → seconds.
    public static func durationSeconds(_ t: String) -> Double? {
        for (unit, scale) in [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400)] where t.hasSuffix(unit) {
            let digits = t.dropLast(unit.count)
            guard !digits.isEmpty, digits.allSatisfy(\.isASCII), let n = Int(digits), n >= 0 else { return nil }
            return Double(n) * scale
        }
        return nil
    }
}
