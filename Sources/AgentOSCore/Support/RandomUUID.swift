import AgentOSCrypto
import Foundation

extension UUID {
    /// A version-4 (random) UUID from libcrypto's generator (`RAND_bytes`: a DRBG in the process,
    /// seeded by the kernel). Foundation's `UUID()` opens and reads `/dev/urandom` on every call
    /// here, and the standard library's generator makes a system call per 8 bytes: an action takes
    /// three UUIDs, and on a virtual machine each system call costs microseconds.
    public static func random() -> UUID {
        var bytes: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &bytes) { raw in
            raw.copyBytes(from: SecureRandom.bytes(16))
            raw[6] = (raw[6] & 0x0F) | 0x40 // version 4
            raw[8] = (raw[8] & 0x3F) | 0x80 // RFC 4122 variant
        }
        return UUID(uuid: bytes)
    }
}

extension UUID {
    /// The lowercase text form (`8-4-4-4-12`) written from a table: Foundation's `uuidString`
    /// prints each byte with `snprintf` (≈ 4,300 instructions), then `lowercased()` copies it;
    /// an action formats a dozen request and row ids.
    public var lowercasedString: String {
        withUnsafeBytes(of: uuid) { bytes in
            String(unsafeUninitializedCapacity: 36) { out in
                let digits: StaticString = "0123456789abcdef"
                let hex = digits.utf8Start
                var o = 0
                for (i, byte) in bytes.enumerated() {
                    if i == 4 || i == 6 || i == 8 || i == 10 {
                        out[o] = UInt8(ascii: "-")
                        o += 1
                    }
                    out[o] = hex[Int(byte >> 4)]
                    out[o + 1] = hex[Int(byte & 0x0F)]
                    o += 2
                }
                return o
            }
        }
    }
}
