import AgentOSCrypto
import Foundation

/// A signed checkpoint of the audit chain (D75): the newest row's seq and MAC, the row count and
/// the time, signed with an Ed25519 key kept outside the database. Shipped to write-once storage,
/// it shows later whether the newest rows were deleted or the chain rewritten up to it.
///
/// The file is six lines of text; the signature covers the first five, newline included:
///
///     agentos audit checkpoint v1
///     seq 1234
///     head 3f0c…(64 hex digits)
///     rows 1234
///     time 2026-12-06T17:00:00.000Z
///     signature <base64 of the 64-byte Ed25519 signature>
public struct AuditCheckpoint: Sendable, Equatable {
    public var seq: Int
    public var head: String
    public var rows: Int
    public var time: Date

    public init(seq: Int, head: String, rows: Int, time: Date) {
        self.seq = seq
        self.head = head
        self.rows = rows
        self.time = AuditChain.storable(time)
    }

    static let magic = "agentos audit checkpoint v1"

    /// The signed text.
    public var body: String {
        "\(Self.magic)\nseq \(seq)\nhead \(head)\nrows \(rows)\ntime \(ISOTime.format(time))\n"
    }

    /// The checkpoint file's text, signed with the private key (PEM).
    public func signed(privatePEM: String) throws -> String {
        body + "signature \(Data(try Ed25519.sign(Array(body.utf8), privatePEM: privatePEM)).base64EncodedString())\n"
    }

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// Reads a checkpoint file's text and checks its signature with the public key (PEM). `source`
    /// names the file in every error.
    public static func read(_ text: String, source: String, publicPEM: String) throws -> AuditCheckpoint {
        func bad(_ line: Int?, _ problem: String) -> Invalid {
            Invalid(description: "\(source)\(line.map { " line \($0)" } ?? ""): \(problem)")
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard lines.first == magic else { throw bad(1, "not an audit checkpoint (the first line must be \"\(magic)\")") }
        guard lines.count >= 6, lines[6...].allSatisfy(\.isEmpty) else {
            throw bad(nil, "a checkpoint has 6 lines (magic, seq, head, rows, time, signature); this one has \(lines.count)")
        }
        func field(_ index: Int, _ name: String) throws -> String {
            let line = lines[index]
            guard line.hasPrefix(name + " ") else { throw bad(index + 1, "expected \"\(name) …\", found \"\(line.prefix(40))\"") }
            return String(line.dropFirst(name.count + 1))
        }
        guard let seq = Int(try field(1, "seq")), seq > 0 else { throw bad(2, "seq must be a positive integer") }
        let head = try field(2, "head")
        guard head.count == 64, head.allSatisfy(\.isHexDigit) else { throw bad(3, "head must be 64 hexadecimal digits") }
        guard let rows = Int(try field(3, "rows")), rows >= 0 else { throw bad(4, "rows must be a non-negative integer") }
        guard let time = ISOTime.parse(try field(4, "time")) else { throw bad(5, "time must be an ISO 8601 timestamp") }
        guard let signature = Data(base64Encoded: try field(5, "signature")), signature.count == 64 else {
            throw bad(6, "signature must be 64 bytes in base64")
        }
        let checkpoint = AuditCheckpoint(seq: seq, head: head, rows: rows, time: time)
        guard checkpoint.body == lines[0..<5].joined(separator: "\n") + "\n" else {
            throw bad(nil, "the fields are not in their canonical form (time with milliseconds, lower-case head)")
        }
        let valid: Bool
        do { valid = try Ed25519.verify(Array(signature), of: Array(checkpoint.body.utf8), publicPEM: publicPEM) } catch {
            throw Invalid(description: "public key: \(error)")
        }
        guard valid else { throw bad(6, "the signature does not verify with this public key (the checkpoint was altered, or signed by another key)") }
        return checkpoint
    }
}
