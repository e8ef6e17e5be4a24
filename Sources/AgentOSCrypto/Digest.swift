import CCrypto

/// Hash functions and MACs over libcrypto (OpenSSL 3, EVP interface).
public enum Digest {
    // OpenSSL 3 looks an algorithm up by name on every use of `EVP_sha256()` (an implicit fetch,
    // about 6,000 instructions; `HMAC()` does it twice more): fetched once here instead. A fetched
    // EVP_MD is immutable and may be shared by threads (OpenSSL's threading rules).
    nonisolated(unsafe) private static let sha256MD: OpaquePointer? = EVP_MD_fetch(nil, "SHA256", nil)
    nonisolated(unsafe) private static let sha1MD: OpaquePointer? = EVP_MD_fetch(nil, "SHA1", nil)

    /// SHA-256 of `bytes` (32 bytes).
    public static func sha256<C: Collection>(_ bytes: C) -> [UInt8] where C.Element == UInt8 {
        evp(sha256MD, Array(bytes), size: 32)
    }

    /// SHA-256 of the UTF-8 bytes of `text`.
    public static func sha256(_ text: String) -> [UInt8] { sha256(Array(text.utf8)) }

    /// SHA-1 (20 bytes). Only for protocol identifiers that require it, such as Redis script SHAs.
    public static func sha1<C: Collection>(_ bytes: C) -> [UInt8] where C.Element == UInt8 {
        evp(sha1MD, Array(bytes), size: 20)
    }

    /// HMAC-SHA-256 of `message` under `key` (RFC 2104: H(K ⊕ opad ‖ H(K ⊕ ipad ‖ message)), a key
    /// longer than the 64-byte block hashed first), with the digest fetched once: `HMAC()` of
    /// libcrypto costs six times as much, mostly in looking the algorithm up (D84).
    public static func hmacSHA256<K: Collection, M: Collection>(key: K, message: M) -> [UInt8]
    where K.Element == UInt8, M.Element == UInt8 {
        var block = key.count > 64 ? sha256(key) : Array(key)
        block += repeatElement(0, count: 64 - block.count)
        var inner = block.map { $0 ^ 0x36 }
        inner.append(contentsOf: message)
        var outer = block.map { $0 ^ 0x5c }
        outer += evp(sha256MD, inner, size: 32)
        return evp(sha256MD, outer, size: 32)
    }

    /// HMAC-SHA-256 of the UTF-8 bytes of `message`.
    public static func hmacSHA256<K: Collection>(key: K, message: String) -> [UInt8] where K.Element == UInt8 {
        hmacSHA256(key: key, message: Array(message.utf8))
    }

    private static func evp(_ md: OpaquePointer?, _ bytes: [UInt8], size: Int) -> [UInt8] {
        precondition(md != nil, "libcrypto has no SHA-256/SHA-1 (EVP_MD_fetch failed)")
        var out = [UInt8](repeating: 0, count: size)
        var outLen: UInt32 = 0
        let ok = bytes.withUnsafeBufferPointer { b in
            out.withUnsafeMutableBufferPointer { o in
                EVP_Digest(b.baseAddress, b.count, o.baseAddress, &outLen, md, nil)
            }
        }
        precondition(ok == 1 && Int(outLen) == size, "EVP_Digest failed in libcrypto")
        return out
    }
}

/// Cryptographically secure random bytes (RAND_bytes).
public enum SecureRandom {
    public static func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let ok = out.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32(count)) }
        precondition(ok == 1, "RAND_bytes failed in libcrypto")
        return out
    }

    /// A random token of `byteCount` bytes as lowercase hex (for idempotency keys, request ids).
    public static func hexToken(_ byteCount: Int = 16) -> String { Hex.encode(bytes(byteCount)) }
}

/// Lowercase hexadecimal encoding and decoding.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func encode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var chars = [UInt8]()
        chars.reserveCapacity(bytes.count * 2)
        for b in bytes {
            chars.append(digits[Int(b >> 4)])
            chars.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: chars, as: UTF8.self)
    }

    /// Decodes hex (either case); nil if the length is odd or a character is not a hex digit.
    public static func decode<S: StringProtocol>(_ text: S) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(utf8.count / 2)
        var i = 0
        while i < utf8.count {
            guard let hi = value(utf8[i]), let lo = value(utf8[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    private static func value(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
