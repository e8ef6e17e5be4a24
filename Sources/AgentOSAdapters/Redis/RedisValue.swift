/// A RESP2 reply. Bulk strings are raw bytes: values are binary-safe (NUL, invalid UTF-8).
public enum RedisValue: Sendable, Equatable, Hashable {
    case bulk([UInt8])
    case status(String)
    case integer(Int64)
    case array([RedisValue])
    case null
    case error(String)

    /// Raw bytes of a bulk or status reply.
    public var bytes: [UInt8]? {
        switch self {
        case .bulk(let b): return b
        case .status(let s): return Array(s.utf8)
        case .integer(let i): return Array(String(i).utf8)
        default: return nil
        }
    }

    /// The reply as text: bulk bytes must be valid UTF-8, otherwise nil.
    public var string: String? {
        switch self {
        case .bulk(let b): return String(validating: b, as: UTF8.self)
        case .status(let s): return s
        case .integer(let i): return String(i)
        default: return nil
        }
    }

    /// Integer replies, and bulk strings that hold a decimal integer.
    public var int: Int64? {
        switch self {
        case .integer(let i): return i
        case .bulk(let b): return Int64(String(decoding: b, as: UTF8.self))
        default: return nil
        }
    }

    public var array: [RedisValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var isNull: Bool { self == .null }

    /// The message of an error reply.
    public var errorMessage: String? {
        if case .error(let message) = self { return message }
        return nil
    }
}

/// Anything that can be sent as one argument of a command.
public protocol RedisArgument: Sendable {
    var redisBytes: [UInt8] { get }
    /// This argument as a RESP bulk string (`$len` CRLF, the bytes, CRLF) at the end of `wire`. The
    /// common kinds write straight from their own storage: no array of bytes per argument.
    func appendBulk(to wire: inout [UInt8])
}

extension RedisArgument {
    public func appendBulk(to wire: inout [UInt8]) { RESPWriter.bulk(redisBytes, to: &wire) }
}

extension String: RedisArgument {
    public var redisBytes: [UInt8] { Array(utf8) }
    public func appendBulk(to wire: inout [UInt8]) {
        var s = self
        s.withUTF8 { RESPWriter.bulk($0, to: &wire) }
    }
}
extension Substring: RedisArgument { public var redisBytes: [UInt8] { Array(utf8) } }
extension Array: RedisArgument where Element == UInt8 { public var redisBytes: [UInt8] { self } }
extension Int: RedisArgument {
    public var redisBytes: [UInt8] { Array(String(self).utf8) }
    public func appendBulk(to wire: inout [UInt8]) { RESPWriter.integerBulk(Int64(self), to: &wire) }
}
extension Int64: RedisArgument {
    public var redisBytes: [UInt8] { Array(String(self).utf8) }
    public func appendBulk(to wire: inout [UInt8]) { RESPWriter.integerBulk(self, to: &wire) }
}
extension Double: RedisArgument { public var redisBytes: [UInt8] { Array(String(self).utf8) } }

/// RESP written straight into a command buffer (D78, D90).
enum RESPWriter {
    /// `$len` CRLF, the bytes, CRLF.
    static func bulk(_ bytes: UnsafeBufferPointer<UInt8>, to wire: inout [UInt8]) {
        wire.append(UInt8(ascii: "$"))
        decimalLine(UInt64(bytes.count), to: &wire)
        wire.append(contentsOf: bytes)
        wire.append(13)
        wire.append(10)
    }

    static func bulk(_ bytes: [UInt8], to wire: inout [UInt8]) { bytes.withUnsafeBufferPointer { bulk($0, to: &wire) } }

    /// An integer argument in decimal, as `String(n)` writes it.
    static func integerBulk(_ n: Int64, to wire: inout [UInt8]) {
        withDecimal(n.magnitude, negative: n < 0) { digits in
            wire.append(UInt8(ascii: "$"))
            decimalLine(UInt64(digits.count), to: &wire)
            wire.append(contentsOf: digits)
            wire.append(13)
            wire.append(10)
        }
    }

    /// `n` in decimal, then CRLF (the array header's and the bulk strings' lengths).
    static func decimalLine(_ n: UInt64, to wire: inout [UInt8]) {
        if n < 10 {
            wire.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: n)) // most arrays and many keys
        } else {
            withDecimal(n, negative: false) { wire.append(contentsOf: $0) }
        }
        wire.append(13)
        wire.append(10)
    }

    /// The decimal digits of `n` (with a minus sign when `negative`), in a buffer on the stack.
    private static func withDecimal<R>(_ n: UInt64, negative: Bool, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { buffer in
            var i = 24
            var v = n
            repeat {
                i -= 1
                buffer[i] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: v % 10)
                v /= 10
            } while v > 0
            if negative {
                i -= 1
                buffer[i] = UInt8(ascii: "-")
            }
            return body(UnsafeBufferPointer(rebasing: buffer[i..<24]))
        }
    }
}
