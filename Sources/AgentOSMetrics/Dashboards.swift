import Foundation

/// The metric names the Grafana dashboards in `dashboards/` use (checked against the catalog and
/// against a scraped exposition by the tests).
public enum Dashboards {
    public static func files(in directory: URL) throws -> [URL] {
        try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "json" }.sorted { $0.path < $1.path }
    }

    /// Every `expr` in a dashboard (panels, rows, nested panels).
    public static func expressions(_ json: Any) -> [String] {
        if let d = json as? [String: Any] {
            return d.flatMap { key, value -> [String] in
                if key == "expr", let s = value as? String { return [s] }
                return expressions(value)
            }
        }
        if let a = json as? [Any] { return a.flatMap(expressions) }
        return []
    }

    /// The series names a PromQL expression selects: identifiers outside label matchers, strings,
    /// ranges and grouping clauses that are neither functions nor keywords.
    public static func metricNames(_ expr: String) -> Set<String> {
        var text = expr
        for pattern in [
            #""(?:[^"\\]|\\.)*""#, #"\{[^}]*\}"#, #"\[[^\]]*\]"#,
            #"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"#
        ] {
            text = text.replacingOccurrences(of: pattern, with: " ", options: .regularExpression)
        }
        let keywords: Set<String> = [
            "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or", "unless", "inf", "nan"
        ]
        var names = Set<String>()
        let regex = try! NSRegularExpression(pattern: #"[A-Za-z_:][A-Za-z0-9_:]*"#)
        let ns = text as NSString
        for m in regex.matches(in: text, range: NSRange(location: 0, length: ns.length)) {
            let word = ns.substring(with: m.range)
            let after = ns.substring(from: m.range.location + m.range.length).drop { $0 == " " }
            if after.first == "(" || keywords.contains(word.lowercased()) { continue }
            // A number's exponent (1e3) is not a name.
            if m.range.location > 0, ns.substring(with: NSRange(location: m.range.location - 1, length: 1)).first?.isNumber == true { continue }
            names.insert(word)
        }
        return names
    }

    /// Every (file, expression, name) of the shipped dashboards.
    public static func references(in directory: URL) throws -> [(file: String, expr: String, name: String)] {
        try files(in: directory).flatMap { url -> [(file: String, expr: String, name: String)] in
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url))
            return expressions(json).flatMap { expr in metricNames(expr).map { (url.lastPathComponent, expr, $0) } }
        }
    }
}
