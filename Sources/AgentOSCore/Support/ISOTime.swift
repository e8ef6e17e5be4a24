import Foundation

/// ISO 8601 / RFC 3339 timestamps, parsed and formatted without Foundation's formatters
/// (which are slow and locale-sensitive). Accepts `T` or space, optional fraction, `Z` or ±hh[:mm].
public enum ISOTime {
    public static func parse(_ text: String) -> Date? {
        var text = text
        return text.withUTF8 { parse(bytes: $0) }
    }

    public static func parse(bytes b: UnsafeBufferPointer<UInt8>) -> Date? {
        func num(_ start: Int, _ len: Int) -> Int? {
            guard start + len <= b.count else { return nil }
            var v = 0
            for i in start..<(start + len) {
                let c = b[i]
                guard c >= 48 && c <= 57 else { return nil }
                v = v * 10 + Int(c - 48)
            }
            return v
        }
        guard b.count >= 19, let year = num(0, 4), b[4] == 45, let month = num(5, 2), b[7] == 45, let day = num(8, 2),
            b[10] == 32 || b[10] == 84, let hour = num(11, 2), b[13] == 58, let minute = num(14, 2), b[16] == 58,
            let second = num(17, 2)
        else { return nil }
        var i = 19
        var fraction = 0.0
        if i < b.count && b[i] == 46 {
            i += 1
            var scale = 0.1
            let start = i
            while i < b.count, b[i] >= 48 && b[i] <= 57 {
                fraction += Double(b[i] - 48) * scale
                scale /= 10
                i += 1
            }
            if i == start { return nil }
        }
        var offsetSeconds = 0
        if i < b.count {
            if b[i] == 90 || b[i] == 122 {
                i += 1
            } // Z or z
            else if b[i] == 43 || b[i] == 45 {
                let sign = b[i] == 45 ? -1 : 1
                guard let oh = num(i + 1, 2) else { return nil }
                var om = 0
                var os = 0
                var j = i + 3
                if j < b.count && b[j] == 58 {
                    guard let m = num(j + 1, 2) else { return nil }
                    om = m
                    j += 3
                } else if j + 1 < b.count, let m = num(j, 2) {
                    om = m
                    j += 2
                }
                if j < b.count && b[j] == 58 {
                    guard let s = num(j + 1, 2) else { return nil }
                    os = s
                    j += 3
                }
                offsetSeconds = sign * (oh * 3600 + om * 60 + os)
                i = j
            } else {
                return nil
            }
        }
        guard i == b.count, (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        let days = daysFromCivil(year, month, day)
        let seconds = Double(days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds) + fraction
        return Date(timeIntervalSince1970: seconds)
    }

    /// `2026-11-26T21:40:00.123Z` (`fractionDigits` 0…6).
    public static func format(_ date: Date, fractionDigits: Int = 3) -> String {
        let digits = max(0, min(6, fractionDigits))
        let scale = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000][digits]
        let t = date.timeIntervalSince1970
        var whole = Int(t.rounded(.down))
        var frac = Int(((t - Double(whole)) * Double(scale)).rounded())
        if frac >= scale {
            whole += 1
            frac -= scale
        }
        let days = Int((Double(whole) / 86_400).rounded(.down))
        let secs = whole - days * 86_400
        let (y, m, d) = civilFromDays(days)
        var out = [UInt8]()
        out.reserveCapacity(27)
        func put(_ v: Int, _ n: Int) {
            var divisor = 1
            for _ in 1..<max(1, n) { divisor *= 10 }
            var v = v
            if n == 4 && v >= 10_000 {
                out.append(contentsOf: Array(String(v / 10_000).utf8))
                v %= 10_000
            }
            while divisor > 0 {
                out.append(UInt8(48 + (v / divisor) % 10))
                divisor /= 10
            }
        }
        put(y, 4)
        out.append(45)
        put(m, 2)
        out.append(45)
        put(d, 2)
        out.append(84)
        put(secs / 3600, 2)
        out.append(58)
        put(secs % 3600 / 60, 2)
        out.append(58)
        put(secs % 60, 2)
        if digits > 0 {
            out.append(46)
            put(frac, digits)
        }
        out.append(90)
        return String(decoding: out, as: UTF8.self)
    }

    // Howard Hinnant's civil calendar algorithms.
    public static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    public static func civilFromDays(_ z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp + (mp < 10 ? 3 : -9)
        return (m <= 2 ? y + 1 : y, m, d)
    }
}
