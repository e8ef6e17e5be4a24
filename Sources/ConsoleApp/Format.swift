import AgentOSCore
import Foundation

/// Compact human formats for narrow columns.
public enum Fmt {
    public static func age(_ seconds: Double?) -> String {
        guard let s = seconds, s.isFinite else { return "-" }
        let v = max(0, s)
        if v < 60 { return "\(Int(v))s" }
        if v < 3_600 { return "\(Int(v / 60))m" }
        if v < 86_400 { return "\(Int(v / 3_600))h" }
        return "\(Int(v / 86_400))d"
    }

    public static func age(since date: Date?, now: Date) -> String { age(date.map { now.timeIntervalSince($0) }) }

    public static func bytes(_ n: Int) -> String {
        let units = ["B", "K", "M", "G", "T"]
        var v = Double(n)
        var u = 0
        while v >= 1024 && u < units.count - 1 {
            v /= 1024
            u += 1
        }
        return u == 0 ? "\(n)B" : String(format: v < 10 ? "%.1f%@" : "%.0f%@", v, units[u])
    }

    public static func count(_ n: Int) -> String {
        let s = String(abs(n))
        var out = ""
        for (i, c) in s.reversed().enumerated() {
            if i > 0 && i % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + String(out.reversed())
    }

    public static func percent(_ f: Double?) -> String {
        guard let f, f.isFinite else { return "-" }
        return String(format: "%.1f%%", f * 100)
    }

    public static func clock(_ d: Date) -> String {
        let t = Int(d.timeIntervalSince1970.rounded(.down))
        let s = ((t % 86_400) + 86_400) % 86_400
        return String(format: "%02d:%02d:%02d", s / 3600, s % 3600 / 60, s % 60)
    }

    public static func shortID(_ id: String) -> String { String(id.prefix(8)) }

    public static func ms(_ v: Double) -> String {
        v >= 10_000 ? String(format: "%.0fs", v / 1000) : v >= 1000 ? String(format: "%.1fs", v / 1000) : String(format: "%.0fms", v)
    }
}
