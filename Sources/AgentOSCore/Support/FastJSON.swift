import Foundation

/// A JSON syntax error found by `FastJSON.parse`: what is wrong and where (byte offset, line, column).
public struct FastJSONSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: String
    public let offset: Int
    public let line: Int
    public let column: Int

    public var description: String { "\(reason) around line \(line), column \(column) (byte \(offset))" }

    /// The error for `reason` at byte `offset` of `bytes`, with its line and column counted.
    init(_ reason: String, at offset: Int, in bytes: UnsafePointer<UInt8>, count: Int) {
        var line = 1
        var column = 0
        for k in 0..<min(offset, count) {
            if bytes[k] == 0x0A {
                line += 1
                column = 0
            } else {
                column += 1
            }
        }
        self.init(reason: reason, offset: offset, line: line, column: column + 1)
    }

    init(reason: String, offset: Int, line: Int, column: Int) {
        self.reason = reason
        self.offset = offset
        self.line = line
        self.column = column
    }
}

/// One value of a parsed document ("tape" entry, 16 bytes). Objects and arrays are followed by their
/// children (an object by key, value, key, value…), so a subtree can be skipped in O(1) via `b`.
struct FastJSONNode {
    enum Kind: UInt8 { case null, `false`, `true`, number, string, array, object }

    /// String: contains a backslash escape. Number: has a fraction or an exponent.
    static let escaped: UInt8 = 1
    static let fractional: UInt8 = 1

    var kind: Kind
    var flags: UInt8 = 0
    /// String and number: byte offset of the first content byte. Array and object: number of elements (pairs).
    var a: UInt32 = 0
    /// String and number: byte length. Array and object: tape index after the last descendant.
    var b: UInt32 = 0
    /// Keys: a cheap signature (length and three bytes) compared before the bytes.
    var sig: UInt32 = 0

    init(kind: Kind) { self.kind = kind }

    @inline(__always)
    static func signature(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt32 {
        guard n > 0 else { return 0 }
        return UInt32(p[0]) | UInt32(p[n - 1]) << 8 | UInt32(p[n >> 1]) << 16 | UInt32(truncatingIfNeeded: n) << 24
    }
}

/// A strict RFC 8259 parser over UTF-8 bytes that builds a flat tape of `FastJSONNode`s without copying
/// strings or converting numbers (that happens only for the values a decoder asks for).
///
/// Strict: full grammar, UTF-8 validated (no overlongs, surrogates or values above U+10FFFF), escapes and
/// `\u` surrogate pairs checked, no unescaped control characters, nesting limited to `maxDepth`.
/// Like Foundation's JSONDecoder it accepts a trailing comma before `]` / `}`.
struct FastJSONParser {
    private let p: UnsafePointer<UInt8>
    private let end: Int
    private var i = 0
    private(set) var tape: UnsafeMutablePointer<FastJSONNode>
    private var capacity: Int
    private(set) var count = 0
    private let maxDepth: Int

    /// Parses `bytes` (which must stay valid while the tape is used). On success the caller owns `tape`
    /// (deallocate it); on failure it is already freed.
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) throws(FastJSONSyntaxError) -> (
        tape: UnsafeMutablePointer<FastJSONNode>, count: Int
    ) {
        guard let base = bytes.baseAddress, bytes.count > 0 else {
            throw FastJSONSyntaxError(reason: "Unexpected end of file", offset: 0, line: 1, column: 0)
        }
        guard bytes.count < Int(UInt32.max) else {
            throw FastJSONSyntaxError(reason: "Document larger than 4 GiB", offset: 0, line: 1, column: 0)
        }
        var parser = FastJSONParser(p: base, end: bytes.count, maxDepth: maxDepth)
        do throws(FastJSONSyntaxError) {
            try parser.value(depth: 0)
            parser.skipWhitespace()
            if parser.i < parser.end { throw parser.unexpected("after top-level value") }
        } catch {
            parser.tape.deallocate()
            throw error
        }
        return (parser.tape, parser.count)
    }

    private init(p: UnsafePointer<UInt8>, end: Int, maxDepth: Int) {
        self.p = p
        self.end = end
        self.maxDepth = maxDepth
        capacity = end / 8 + 16
        tape = .allocate(capacity: capacity)
    }

    // MARK: Tape

    @inline(__always)
    private mutating func append(_ node: FastJSONNode) -> Int {
        if count == capacity { grow() }
        (tape + count).initialize(to: node)
        count += 1
        return count - 1
    }

    @inline(never)
    private mutating func grow() {
        let bigger = UnsafeMutablePointer<FastJSONNode>.allocate(capacity: capacity * 2)
        bigger.moveInitialize(from: tape, count: count)
        tape.deallocate()
        tape = bigger
        capacity *= 2
    }

    // MARK: Errors

    @inline(never)
    private func error(_ reason: String, at offset: Int) -> FastJSONSyntaxError {
        FastJSONSyntaxError(reason, at: offset, in: p, count: end)
    }

    @inline(never)
    private func unexpected(_ context: String? = nil, at offset: Int? = nil) -> FastJSONSyntaxError {
        let at = offset ?? i
        guard at < end else { return error("Unexpected end of file", at: at) }
        let c = p[at]
        let shown = c >= 0x20 && c < 0x7F ? "'\(Character(Unicode.Scalar(c)))'" : "byte 0x\(String(c, radix: 16))"
        return error("Unexpected character \(shown)" + (context.map { " \($0)" } ?? ""), at: at)
    }

    // MARK: Values

    /// Skips whitespace; the common case (none, in compact JSON) costs one comparison.
    @inline(__always)
    private mutating func skipWhitespace() {
        if i < end && p[i] > 0x20 { return }
        skipWhitespaceSlow()
    }

    private mutating func skipWhitespaceSlow() {
        while i < end {
            let c = p[i]
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
            i += 1
        }
    }

    private mutating func value(depth: Int) throws(FastJSONSyntaxError) {
        skipWhitespace()
        guard i < end else { throw unexpected() }
        switch p[i] {
        case 0x22: try string(isKey: false)
        case 0x7B: try object(depth: depth)
        case 0x5B: try array(depth: depth)
        case 0x74: try literal("true", .true)
        case 0x66: try literal("false", .false)
        case 0x6E: try literal("null", .null)
        case 0x2D, 0x30...0x39: try number()
        default: throw unexpected()
        }
    }

    private mutating func literal(_ word: StaticString, _ kind: FastJSONNode.Kind) throws(FastJSONSyntaxError) {
        let w = word.utf8Start
        for k in 0..<word.utf8CodeUnitCount {
            guard i + k < end, p[i + k] == w[k] else { throw unexpected("in literal \(word)", at: i + k) }
        }
        i += word.utf8CodeUnitCount
        _ = append(FastJSONNode(kind: kind))
    }

    private mutating func object(depth: Int) throws(FastJSONSyntaxError) {
        guard depth < maxDepth else { throw error("Too many nested arrays or dictionaries (limit \(maxDepth))", at: i) }
        let me = append(FastJSONNode(kind: .object))
        i += 1
        var pairs: UInt32 = 0
        skipWhitespace()
        if i < end && p[i] == 0x7D {
            i += 1
        } else {
            while true {
                guard i < end, p[i] == 0x22 else { throw unexpected("in object (expected a key)") }
                try string(isKey: true)
                skipWhitespace()
                guard i < end, p[i] == 0x3A else { throw unexpected("in object (expected ':')") }
                i += 1
                try value(depth: depth + 1)
                pairs += 1
                skipWhitespace()
                guard i < end else { throw unexpected() }
                if p[i] == 0x7D {
                    i += 1
                    break
                }
                guard p[i] == 0x2C else { throw unexpected("in object") }
                i += 1
                skipWhitespace()
                if i < end && p[i] == 0x7D {
                    i += 1
                    break
                } // trailing comma, as Foundation accepts
            }
        }
        tape[me].a = pairs
        tape[me].b = UInt32(truncatingIfNeeded: count)
    }

    private mutating func array(depth: Int) throws(FastJSONSyntaxError) {
        guard depth < maxDepth else { throw error("Too many nested arrays or dictionaries (limit \(maxDepth))", at: i) }
        let me = append(FastJSONNode(kind: .array))
        i += 1
        var elements: UInt32 = 0
        skipWhitespace()
        if i < end && p[i] == 0x5D {
            i += 1
        } else {
            while true {
                try value(depth: depth + 1)
                elements += 1
                skipWhitespace()
                guard i < end else { throw unexpected() }
                if p[i] == 0x5D {
                    i += 1
                    break
                }
                guard p[i] == 0x2C else { throw unexpected("in array") }
                i += 1
                skipWhitespace()
                if i < end && p[i] == 0x5D {
                    i += 1
                    break
                } // trailing comma, as Foundation accepts
            }
        }
        tape[me].a = elements
        tape[me].b = UInt32(truncatingIfNeeded: count)
    }

    // MARK: Numbers

    @inline(__always)
    private func isDigit(_ k: Int) -> Bool { k < end && p[k] &- 0x30 < 10 }

    private mutating func number() throws(FastJSONSyntaxError) {
        let start = i
        var fractional = false
        if p[i] == 0x2D { i += 1 }
        guard i < end else { throw unexpected() }
        if p[i] == 0x30 {
            i += 1
            if isDigit(i) { throw error("Number with leading zero", at: i) }
        } else if isDigit(i) {
            while isDigit(i) { i += 1 }
        } else {
            throw unexpected("in number")
        }
        if i < end && p[i] == 0x2E {
            i += 1
            guard isDigit(i) else { throw unexpected("in number (expected a digit after '.')") }
            while isDigit(i) { i += 1 }
            fractional = true
        }
        if i < end && (p[i] | 0x20) == 0x65 {
            i += 1
            if i < end && (p[i] == 0x2B || p[i] == 0x2D) { i += 1 }
            guard isDigit(i) else { throw unexpected("in number (expected a digit in the exponent)") }
            while isDigit(i) { i += 1 }
            fractional = true
        }
        var node = FastJSONNode(kind: .number)
        node.flags = fractional ? FastJSONNode.fractional : 0
        node.a = UInt32(truncatingIfNeeded: start)
        node.b = UInt32(truncatingIfNeeded: i - start)
        _ = append(node)
    }

    // MARK: Strings

    /// A mask whose lowest set bit marks the first byte that ends the fast scan: `"`, `\`, a control
    /// character or a non-ASCII byte (bits above it may be false positives; it is never wrong itself).
    @inline(__always)
    private static func specialBytes(_ w: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let high: UInt64 = 0x8080_8080_8080_8080
        let quote = w ^ (ones &* 0x22)
        let backslash = w ^ (ones &* 0x5C)
        let zeroQuote = (quote &- ones) & ~quote
        let zeroBackslash = (backslash &- ones) & ~backslash
        let belowSpace = w &- (ones &* 0x20) // high bit set below 0x20 (and at 0xA0 and up: non-ASCII anyway)
        return (zeroQuote | zeroBackslash | belowSpace | w) & high
    }

    private mutating func string(isKey: Bool) throws(FastJSONSyntaxError) {
        let start = i + 1 // after the opening quote
        var j = start // a local index: the loop does not store `i` on every step
        var flags: UInt8 = 0
        while true {
            // Eight bytes at a time up to the first special byte, then that byte on its own.
            while j &+ 8 <= end {
                let special = Self.specialBytes(UnsafeRawPointer(p + j).loadUnaligned(as: UInt64.self))
                if special != 0 {
                    j &+= special.trailingZeroBitCount &>> 3
                    break
                }
                j &+= 8
            }
            guard j < end else { throw error("Unterminated string", at: start - 1) }
            let c = p[j]
            if c == 0x22 { break }
            if c == 0x5C {
                flags = FastJSONNode.escaped
                i = j
                try escape()
                j = i
            } else if c >= 0x80 {
                i = j
                try utf8Sequence()
                j = i
            } else if c < 0x20 {
                throw error("Unescaped control character 0x\(String(c, radix: 16)) in string", at: j)
            } else {
                j &+= 1 // an ordinary byte among the last seven
            }
        }
        var node = FastJSONNode(kind: .string)
        node.flags = flags
        node.a = UInt32(truncatingIfNeeded: start)
        node.b = UInt32(truncatingIfNeeded: j - start)
        if isKey { node.sig = FastJSONNode.signature(p + start, j - start) }
        i = j + 1 // after the closing quote
        _ = append(node)
    }

    private mutating func escape() throws(FastJSONSyntaxError) {
        guard i + 1 < end else { throw error("Unterminated string", at: i) }
        switch p[i + 1] {
        case 0x22, 0x5C, 0x2F, 0x62, 0x66, 0x6E, 0x72, 0x74:
            i += 2
        case 0x75:
            let unit = try hex4(at: i + 2)
            i += 6
            if unit >= 0xD800 && unit < 0xDC00 {
                guard i + 1 < end, p[i] == 0x5C, p[i + 1] == 0x75, let low = try? hex4(at: i + 2), low >= 0xDC00 && low < 0xE000 else {
                    throw error("Missing low code point in surrogate pair", at: i)
                }
                i += 6
            } else if unit >= 0xDC00 && unit < 0xE000 {
                throw error("Invalid unicode scalar value 0x\(String(unit, radix: 16)) (lone low surrogate)", at: i - 6)
            }
        default:
            throw unexpected("in escape sequence", at: i + 1)
        }
    }

    private func hex4(at k: Int) throws(FastJSONSyntaxError) -> UInt32 {
        guard k + 4 <= end else { throw error("Unterminated unicode escape", at: k) }
        var v: UInt32 = 0
        for j in k..<(k + 4) {
            let c = p[j]
            let d: UInt8
            switch c {
            case 0x30...0x39: d = c - 0x30
            case 0x41...0x46: d = c - 0x41 + 10
            case 0x61...0x66: d = c - 0x61 + 10
            default: throw error("Invalid hex digit in unicode escape", at: j)
            }
            v = v << 4 | UInt32(d)
        }
        return v
    }

    /// Validates one multi-byte UTF-8 sequence starting at `i` (Unicode Table 3-7) and steps over it.
    private mutating func utf8Sequence() throws(FastJSONSyntaxError) {
        let c = p[i]
        let length: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch c {
        case 0xC2...0xDF: length = 2
        case 0xE0:
            length = 3
            low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED:
            length = 3
            high = 0x9F
        case 0xF0:
            length = 4
            low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4:
            length = 4
            high = 0x8F
        default: throw error("Invalid UTF-8 byte 0x\(String(c, radix: 16)) in string", at: i)
        }
        guard i + length <= end else { throw error("Truncated UTF-8 sequence in string", at: i) }
        let second = p[i + 1]
        guard second >= low && second <= high else { throw error("Invalid UTF-8 sequence in string", at: i) }
        if length > 2 {
            for k in 2..<length where p[i + k] & 0xC0 != 0x80 {
                throw error("Invalid UTF-8 sequence in string", at: i)
            }
        }
        i += length
    }
}

// MARK: - Values

/// Conversions from tape nodes to Swift values (strings unescaped, numbers parsed), used by the decoder.
enum FastJSONValue {
    /// The string content of a `.string` node.
    static func string(_ base: UnsafePointer<UInt8>, _ node: FastJSONNode) -> String {
        let start = base + Int(node.a)
        let n = Int(node.b)
        if node.flags & FastJSONNode.escaped == 0 {
            return String(decoding: UnsafeBufferPointer(start: start, count: n), as: UTF8.self)
        }
        // The parser validated every escape; unescaped text is never longer than the escaped form.
        return String(unsafeUninitializedCapacity: n) { out in
            var r = 0
            var w = 0
            func put(_ scalar: UInt32) {
                if scalar < 0x80 {
                    out[w] = UInt8(scalar)
                    w += 1
                } else if scalar < 0x800 {
                    out[w] = UInt8(0xC0 | scalar >> 6)
                    out[w + 1] = UInt8(0x80 | scalar & 0x3F)
                    w += 2
                } else if scalar < 0x10000 {
                    out[w] = UInt8(0xE0 | scalar >> 12)
                    out[w + 1] = UInt8(0x80 | scalar >> 6 & 0x3F)
                    out[w + 2] = UInt8(0x80 | scalar & 0x3F)
                    w += 3
                } else {
                    out[w] = UInt8(0xF0 | scalar >> 18)
                    out[w + 1] = UInt8(0x80 | scalar >> 12 & 0x3F)
                    out[w + 2] = UInt8(0x80 | scalar >> 6 & 0x3F)
                    out[w + 3] = UInt8(0x80 | scalar & 0x3F)
                    w += 4
                }
            }
            func hex(_ k: Int) -> UInt32 {
                var v: UInt32 = 0
                for j in k..<(k + 4) {
                    let c = UInt32(start[j])
                    v = v << 4 | (c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10)
                }
                return v
            }
            while r < n {
                let c = start[r]
                guard c == 0x5C else {
                    out[w] = c
                    w += 1
                    r += 1
                    continue
                }
                switch start[r + 1] {
                case 0x62: put(0x08)
                case 0x66: put(0x0C)
                case 0x6E: put(0x0A)
                case 0x72: put(0x0D)
                case 0x74: put(0x09)
                case 0x75:
                    let unit = hex(r + 2)
                    if unit >= 0xD800 && unit < 0xDC00 {
                        put(0x10000 + (unit - 0xD800) << 10 + (hex(r + 8) - 0xDC00))
                        r += 6
                    } else {
                        put(unit)
                    }
                    r += 4
                default: put(UInt32(start[r + 1])) // " \ /
                }
                r += 2
            }
            return w
        }
    }

    /// The last valid `yyyy-mm-dd` seen and its day number: a snapshot's timestamps share a few days.
    struct DayCache {
        var key: (UInt64, UInt16) = (0, 0)
        var days = 0
    }

    /// `ISOTime.parse(bytes:)` for the common form `yyyy-mm-ddThh:mm:ss[.fff…]Z`, computed with the same
    /// arithmetic in the same order (so the same `Date`, bit for bit); nil for anything else, which the
    /// caller then gives to `ISOTime.parse`. About five times faster, and snapshots hold many timestamps.
    static func utcTimestamp(_ p: UnsafePointer<UInt8>, _ n: Int, _ cache: inout DayCache) -> Date? {
        @inline(__always) func digits(_ at: Int, _ count: Int) -> Int? {
            var v = 0
            for k in at..<(at + count) {
                let d = p[k] &- 0x30
                guard d < 10 else { return nil }
                v = v * 10 + Int(d)
            }
            return v
        }
        guard n >= 20, p[n - 1] | 0x20 == 0x7A, p[10] == 0x54 || p[10] == 0x20, p[13] == 0x3A, p[16] == 0x3A,
            let hour = digits(11, 2), let minute = digits(14, 2), let second = digits(17, 2)
        else { return nil }
        let raw = UnsafeRawPointer(p)
        let key = (raw.loadUnaligned(as: UInt64.self), raw.loadUnaligned(fromByteOffset: 8, as: UInt16.self))
        let days: Int
        if key == cache.key && cache.key.0 != 0 {
            days = cache.days
        } else {
            guard p[4] == 0x2D, p[7] == 0x2D, let year = digits(0, 4), let month = digits(5, 2), let day = digits(8, 2),
                (1...12).contains(month), (1...31).contains(day)
            else { return nil }
            days = ISOTime.daysFromCivil(year, month, day)
            cache = DayCache(key: key, days: days)
        }
        var fraction = 0.0
        if n > 20 {
            guard p[19] == 0x2E, n > 21 else { return nil }
            var scale = 0.1
            for k in 20..<(n - 1) {
                let d = p[k] &- 0x30
                guard d < 10 else { return nil }
                fraction += Double(d) * scale
                scale /= 10
            }
        }
        guard hour < 24, minute < 60, second < 61 else { return nil }
        return Date(timeIntervalSince1970: Double(days * 86_400 + hour * 3600 + minute * 60 + second) + fraction)
    }

    /// The value of a `.number` node as a Double; nil when it is not representable (overflow to infinity,
    /// or a non-zero value that underflows to zero), as Foundation's JSONDecoder refuses those.
    static func double(_ base: UnsafePointer<UInt8>, _ node: FastJSONNode) -> Double? {
        let p = base + Int(node.a)
        let n = Int(node.b)
        // Clinger's fast path: at most 2^53 as mantissa and a power of ten up to 22 are exact, so one
        // multiplication or division is correctly rounded.
        var k = 0
        let negative = p[0] == 0x2D
        if negative { k = 1 }
        var mantissa: UInt64 = 0
        var digits = 0
        var exponent = 0
        while k < n, p[k] &- 0x30 < 10 {
            if mantissa != 0 || p[k] != 0x30 { digits += 1 }
            mantissa = mantissa &* 10 &+ UInt64(p[k] &- 0x30)
            k += 1
        }
        if k < n && p[k] == 0x2E {
            k += 1
            while k < n, p[k] &- 0x30 < 10 {
                if mantissa != 0 || p[k] != 0x30 { digits += 1 }
                mantissa = mantissa &* 10 &+ UInt64(p[k] &- 0x30)
                exponent -= 1
                k += 1
            }
        }
        if k < n {
            k += 1 // e or E
            var sign = 1
            if p[k] == 0x2D {
                sign = -1
                k += 1
            } else if p[k] == 0x2B {
                k += 1
            }
            var e = 0
            while k < n {
                e = min(e * 10 + Int(p[k] &- 0x30), 100_000)
                k += 1
            }
            exponent += sign * e
        }
        if digits <= 19 && mantissa == 0 { return negative ? -0.0 : 0.0 }
        if digits <= 19 && mantissa <= 1 << 53 && exponent >= -22 && exponent <= 22 {
            var d = Double(mantissa)
            let scale = powersOfTen[exponent < 0 ? -exponent : exponent]
            d = exponent < 0 ? d / scale : d * scale
            return negative ? -d : d
        }
        // Slow path: the standard library's correctly rounded parser, like Foundation's strtod.
        guard let d = Double(String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)), d.isFinite else { return nil }
        if d == 0 && !isTrueZero(p, n) { return nil }
        return d
    }

    private static let powersOfTen: [Double] = (0...22).map { pow(10, Double($0)) }

    private static func isTrueZero(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        for k in 0..<n {
            switch p[k] {
            case 0x31...0x39: return false
            case 0x65, 0x45: return true
            default: continue
            }
        }
        return true
    }

    /// The value of a `.number` node as an integer of type `T`, following Foundation's JSONDecoder:
    /// integral text is parsed exactly; `4.0` or `1e2` are accepted when the value is an exact integer.
    static func integer<T: FixedWidthInteger>(_ base: UnsafePointer<UInt8>, _ node: FastJSONNode, as: T.Type) -> T? {
        let p = base + Int(node.a)
        let n = Int(node.b)
        if node.flags & FastJSONNode.fractional == 0 {
            let negative = p[0] == 0x2D
            var magnitude: UInt64 = 0
            var overflow = false
            for k in (negative ? 1 : 0)..<n {
                let (m, o1) = magnitude.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(UInt64(p[k] &- 0x30))
                magnitude = s
                overflow = overflow || o1 || o2
            }
            if !overflow {
                if !negative { return T(exactly: magnitude) }
                if magnitude <= UInt64(Int64.max) { return T(exactly: -Int64(magnitude)) }
                if magnitude == UInt64(Int64.max) + 1 { return T(exactly: Int64.min) }
            }
        }
        // Slow path, as Foundation: through Double when that is exact below 2^53, else exact decimal digits.
        guard let d = double(base, node), let value = T(exactly: d) else { return nil }
        if d.magnitude < 9_007_199_254_740_992 { return value }
        return integerFromDecimalText(p, n, as: T.self)
    }

    /// Digits times a power of ten, the fraction truncated (as Foundation's Decimal conversion does).
    private static func integerFromDecimalText<T: FixedWidthInteger>(_ p: UnsafePointer<UInt8>, _ n: Int, as: T.Type) -> T? {
        var digits: [UInt8] = []
        var exponent = 0
        var k = 0
        let negative = p[0] == 0x2D
        if negative { k = 1 }
        var afterPoint = false
        while k < n {
            let c = p[k]
            if c == 0x2E {
                afterPoint = true
            } else if c | 0x20 == 0x65 {
                break
            } else {
                if !(digits.isEmpty && c == 0x30) { digits.append(c - 0x30) }
                if afterPoint { exponent -= 1 }
            }
            k += 1
        }
        if k < n {
            k += 1
            var sign = 1
            if p[k] == 0x2D {
                sign = -1
                k += 1
            } else if p[k] == 0x2B {
                k += 1
            }
            var e = 0
            while k < n {
                e = min(e * 10 + Int(p[k] - 0x30), 100_000)
                k += 1
            }
            exponent += sign * e
        }
        if exponent < 0 {
            digits.removeLast(min(digits.count, -exponent))
        } else if exponent > 40 {
            return digits.isEmpty ? 0 : nil
        } else {
            digits += repeatElement(0, count: exponent)
        }
        var magnitude: UInt64 = 0
        for d in digits {
            let (m, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(d))
            guard !o1 && !o2 else { return nil }
            magnitude = s
        }
        if !negative { return T(exactly: magnitude) }
        if magnitude <= UInt64(Int64.max) { return T(exactly: -Int64(magnitude)) }
        return magnitude == UInt64(Int64.max) + 1 ? T(exactly: Int64.min) : nil
    }
}
