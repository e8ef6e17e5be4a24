import Foundation

/// A `Decodable` decoder over `FastJSONParser`'s tape, a drop-in for `AgentJSON.decoder()` (Foundation's
/// JSONDecoder with ISO 8601 dates): the same `init(from:)` code runs, and it decodes the same values.
///
/// - Dates: a number is seconds since 1970, a string an ISO 8601 timestamp (`ISOTime.parse`).
/// - Numbers: integers parsed exactly (`4.0` and `1e2` accepted as integers when exact, as Foundation
///   does); doubles correctly rounded; values that overflow or underflow are refused.
/// - Objects: the first of duplicate keys wins; a trailing comma is accepted (both as Foundation).
/// - Errors are `DecodingError`s whose coding path names the JSON path; invalid JSON (anywhere in the
///   document, also in fields that are not decoded) is `DecodingError.dataCorrupted` with an empty path
///   and a `FastJSONSyntaxError` as underlying error.
public struct FastJSONDecoder: Sendable {
    /// Arrays and objects nested deeper than this are a syntax error (Foundation's limit is 512 too).
    public var maxDepth: Int

    public init(maxDepth: Int = 512) {
        self.maxDepth = maxDepth
    }

    public func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        try withDocument(data) { try $0.decode(T.self, at: 0) }
    }

    /// Parses `data` once and runs `body` on the document (for decoding several types from one input).
    func withDocument<R>(_ data: Data, _ body: (FastJSONDocument) throws -> R) throws -> R {
        try data.withUnsafeBytes { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            switch Self.encoding(of: bytes) {
            case (.utf8, let bom):
                return try withDocument(UnsafeBufferPointer(rebasing: bytes[bom...]), body)
            case (let encoding, let bom):
                // UTF-16 or UTF-32, as RFC 4627 and Foundation allow: convert, then parse.
                guard var text = String(bytes: bytes[bom...], encoding: encoding) else {
                    throw DecodingError.dataCorrupted(
                        .init(
                            codingPath: [], debugDescription: "The given data was not valid JSON.",
                            underlyingError: FastJSONSyntaxError(reason: "Unable to convert data to UTF-8", offset: 0, line: 1, column: 0)))
                }
                return try text.withUTF8 { try withDocument($0, body) }
            }
        }
    }

    private func withDocument<R>(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (FastJSONDocument) throws -> R) throws -> R {
        let parsed: (tape: UnsafeMutablePointer<FastJSONNode>, count: Int)
        do {
            parsed = try FastJSONParser.parse(bytes, maxDepth: maxDepth)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "The given data was not valid JSON.", underlyingError: error))
        }
        var document = FastJSONDocument(bytes: bytes, tape: parsed.tape, count: parsed.count)
        // If a decoder or container escaped `init(from:)`, it must not point into `bytes` afterwards.
        defer { if !isKnownUniquelyReferenced(&document) { document.copyBytes() } }
        return try body(document)
    }

    /// RFC 4627 section 3 detection, with byte order marks, as Foundation's JSONDecoder.
    static func encoding(of b: UnsafeBufferPointer<UInt8>) -> (String.Encoding, Int) {
        let b0 = b.count > 0 ? Int(b[0]) : -1
        let b1 = b.count > 1 ? Int(b[1]) : -1
        let b2 = b.count > 2 ? Int(b[2]) : -1
        let b3 = b.count > 3 ? Int(b[3]) : -1
        switch (b0, b1, b2, b3) {
        case (0xEF, 0xBB, 0xBF, _): return (.utf8, 3)
        case (0, 0, 0xFE, 0xFF): return (.utf32BigEndian, 4)
        case (0xFE, 0xFF, 0, 0): return (.utf32LittleEndian, 4)
        case (0xFE, 0xFF, _, _): return (.utf16BigEndian, 2)
        case (0xFF, 0xFE, _, _): return (.utf16LittleEndian, 2)
        case (0, 0, 0, 1...): return (.utf32BigEndian, 0)
        case (0, 1..., 0, 1...): return (.utf16BigEndian, 0)
        case (1..., 0, 0, 0): return (.utf32LittleEndian, 0)
        case (1..., 0, 1..., 0): return (.utf16LittleEndian, 0)
        case (0, 1..., -1, -1): return (.utf16BigEndian, 0)
        case (1..., 0, -1, -1): return (.utf16LittleEndian, 0)
        default: return (.utf8, 0)
        }
    }
}

// MARK: - Document

/// A parsed document: the input bytes and the tape. Decoders and containers are small structs holding
/// the document and a tape index; coding paths are rebuilt from the tape only when an error needs one.
final class FastJSONDocument {
    private(set) var base: UnsafePointer<UInt8>
    private let byteCount: Int
    let tape: UnsafeMutablePointer<FastJSONNode>
    let count: Int
    private var ownedBytes: UnsafeMutablePointer<UInt8>?
    /// Hash tables (tape index of key + 1, open addressing) for objects with many keys, built on first lookup.
    @exclusivity(unchecked) private var keyTables: [Int: [Int32]] = [:]
    @exclusivity(unchecked) private var lastPath: (node: Int, path: [CodingKey])?
    private let known = FastJSONKnownTypes.shared
    @exclusivity(unchecked) private var routes: [(id: ObjectIdentifier, route: Route)] = []
    @exclusivity(unchecked) private var routeCache = [(id: ObjectIdentifier, route: Route)?](repeating: nil, count: routeSlots)
    private static let routeSlots = 64

    static let linearScanLimit = 32
    /// The keys of the object a reader is reading (signature << 32 | length, and the value's tape index),
    /// rebuilt when a reader moves to another object; not built (`indexed` false) for objects with more
    /// than 32 keys or with escaped keys.
    @exclusivity(unchecked) private var dayCache = FastJSONValue.DayCache()
    @exclusivity(unchecked) private var indexOwner = -1
    @exclusivity(unchecked) private var indexed = false
    @exclusivity(unchecked) private var indexCount = 0
    @exclusivity(unchecked) private var indexCursor = 0
    /// A one-word Bloom filter of the indexed keys' probes.
    @exclusivity(unchecked) private var indexFilter: UInt64 = 0
    private let pairProbes = UnsafeMutablePointer<UInt64>.allocate(capacity: linearScanLimit)
    private let pairValues = UnsafeMutablePointer<Int>.allocate(capacity: linearScanLimit)

    /// False for a document that reads another's tape (`init(sharing:)`): the owner frees it.
    private let ownsTape: Bool
    /// Members decoded on another thread (`decodeInParallel`), answered when their node is asked for.
    @exclusivity(unchecked) private var side: FastJSONSideDecode?

    init(bytes: UnsafeBufferPointer<UInt8>, tape: UnsafeMutablePointer<FastJSONNode>, count: Int) {
        base = bytes.baseAddress!
        byteCount = bytes.count
        self.tape = tape
        self.count = count
        ownsTape = true
        routes = Self.sharedRoutesLock.withLock { Self.sharedRoutes }
    }

    /// A second reader of `other`'s bytes and tape, with caches of its own (for another thread); it must
    /// not outlive `other`.
    init(sharing other: FastJSONDocument) {
        base = other.base
        byteCount = other.byteCount
        tape = other.tape
        count = other.count
        ownsTape = false
        routes = other.routes
    }

    deinit {
        if ownsTape { tape.deallocate() }
        pairProbes.deallocate()
        pairValues.deallocate()
        ownedBytes?.deallocate()
    }

    func copyBytes() {
        guard ownedBytes == nil else { return }
        let copy = UnsafeMutablePointer<UInt8>.allocate(capacity: byteCount)
        copy.initialize(from: base, count: byteCount)
        ownedBytes = copy
        base = UnsafePointer(copy)
    }

    /// The tape index after the value at `i` and its descendants.
    @inline(__always)
    func next(_ i: Int) -> Int {
        let node = tape[i]
        return node.kind.rawValue >= FastJSONNode.Kind.array.rawValue ? Int(node.b) : i + 1
    }

    @inline(__always)
    func isNull(_ i: Int) -> Bool { tape[i].kind == .null }

    func string(at i: Int) -> String { FastJSONValue.string(base, tape[i]) }

    // MARK: Keys

    /// The tape index of the value for `key` in the object at `object` (the first one if repeated).
    func lookup(_ key: String, inObject object: Int) -> Int? {
        let pairs = Int(tape[object].a)
        if pairs > Self.linearScanLimit { return hashedLookup(key, inObject: object) }
        var wanted = key
        return wanted.withUTF8 { w -> Int? in
            let n = w.count
            let sig = n == 0 ? 0 : FastJSONNode.signature(w.baseAddress!, n)
            var k = object + 1
            for _ in 0..<pairs {
                let node = tape[k]
                if node.flags & FastJSONNode.escaped == 0 {
                    if node.sig == sig && Int(node.b) == n && bytesEqual(base + Int(node.a), w.baseAddress, n) { return k + 1 }
                } else if string(at: k) == key {
                    return k + 1
                }
                k = next(k + 1)
            }
            return nil
        }
    }

    /// `lookup` for a reader that asks for many keys of the same object in a row: the object's keys are
    /// listed once (`buildIndex`), then each lookup compares 8-byte probes in key order, so the first of
    /// repeated keys wins as in `lookup`.
    func indexedLookup(_ key: String, inObject object: Int) -> Int? {
        if indexOwner != object { buildIndex(object) }
        guard indexed else { return lookup(key, inObject: object) }
        var wanted = key
        return wanted.withUTF8 { w -> Int? in
            let n = w.count
            // Readers ask for the keys in the order the encoder wrote them: the pair after the last one
            // found is tried first (length, then bytes), so a row costs one comparison per field.
            let c = indexCursor
            if c < indexCount, pairProbes[c] & 0xFFFF_FFFF == UInt64(n), bytesEqual(base + Int(tape[pairValues[c] - 1].a), w.baseAddress, n) {
                indexCursor = c + 1
                return pairValues[c]
            }
            let probe = UInt64(n == 0 ? 0 : FastJSONNode.signature(w.baseAddress!, n)) << 32 | UInt64(n)
            // An absent key (an optional field left out) is usually answered by the object's filter alone.
            guard indexFilter & Self.filterBit(probe) != 0 else { return nil }
            for j in 0..<indexCount where pairProbes[j] == probe && bytesEqual(base + Int(tape[pairValues[j] - 1].a), w.baseAddress, n) {
                indexCursor = j + 1
                return pairValues[j]
            }
            return nil
        }
    }

    @inline(__always)
    private static func filterBit(_ probe: UInt64) -> UInt64 { 1 &<< ((probe &* 0x9E37_79B9_7F4A_7C15) &>> 58) }

    private func buildIndex(_ object: Int) {
        indexOwner = object
        indexCursor = 0
        indexFilter = 0
        indexed = false
        let pairs = Int(tape[object].a)
        guard pairs <= Self.linearScanLimit else { return }
        var k = object + 1
        for j in 0..<pairs {
            let node = tape[k]
            guard node.flags & FastJSONNode.escaped == 0 else { return }
            pairProbes[j] = UInt64(node.sig) << 32 | UInt64(node.b)
            indexFilter |= Self.filterBit(pairProbes[j])
            pairValues[j] = k + 1
            k = next(k + 1)
        }
        indexCount = pairs
        indexed = true
    }

    /// Whether two of these key nodes spell the same key (signatures first; escaped keys unescaped).
    func hasRepeatedKeys(_ keys: [Int]) -> Bool {
        guard keys.count > 1 else { return false }
        if keys.count > Self.linearScanLimit || keys.contains(where: { tape[$0].flags & FastJSONNode.escaped != 0 }) {
            return Set(keys.map { string(at: $0) }).count != keys.count
        }
        for a in 0..<keys.count {
            let x = tape[keys[a]]
            for b in (a + 1)..<keys.count {
                let y = tape[keys[b]]
                if x.sig == y.sig && x.b == y.b && bytesEqual(base + Int(x.a), base + Int(y.a), Int(x.b)) { return true }
            }
        }
        return false
    }

    /// Whether `n` bytes at `a` and `b` are equal: words at a time, never reading outside the `n` bytes.
    @inline(__always)
    private func bytesEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>?, _ n: Int) -> Bool {
        guard let b else { return n == 0 }
        let x = UnsafeRawPointer(a)
        let y = UnsafeRawPointer(b)
        if n >= 8 {
            var i = 0
            while i + 8 <= n {
                if x.loadUnaligned(fromByteOffset: i, as: UInt64.self) != y.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
                i += 8
            }
            return i == n || x.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self) == y.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
        }
        if n >= 4 {
            return x.loadUnaligned(as: UInt32.self) == y.loadUnaligned(as: UInt32.self)
                && x.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self) == y.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)
        }
        for j in 0..<n where a[j] != b[j] { return false }
        return true
    }

    private func hashedLookup(_ key: String, inObject object: Int) -> Int? {
        let table = keyTables[object] ?? buildKeyTable(object)
        let mask = table.count - 1
        var wanted = key
        return wanted.withUTF8 { w -> Int? in
            var slot = Self.hash(w) & mask
            while table[slot] != 0 {
                let k = Int(table[slot]) - 1
                if keyEquals(k, w) { return k + 1 }
                slot = (slot + 1) & mask
            }
            return nil
        }
    }

    /// Whether the key node at `k` spells `w` (escaped keys are compared unescaped).
    private func keyEquals(_ k: Int, _ w: UnsafeBufferPointer<UInt8>) -> Bool {
        let node = tape[k]
        if node.flags & FastJSONNode.escaped == 0 {
            return Int(node.b) == w.count && bytesEqual(base + Int(node.a), w.baseAddress, w.count)
        }
        var text = string(at: k)
        return text.withUTF8 { $0.count == w.count && bytesEqual($0.baseAddress!, w.baseAddress, w.count) }
    }

    private func buildKeyTable(_ object: Int) -> [Int32] {
        let pairs = Int(tape[object].a)
        var size = 16
        while size < pairs * 2 { size *= 2 }
        var table = [Int32](repeating: 0, count: size)
        var k = object + 1
        for _ in 0..<pairs {
            let node = tape[k]
            var text = node.flags & FastJSONNode.escaped == 0 ? nil : string(at: k)
            let insert = { (w: UnsafeBufferPointer<UInt8>) in
                var slot = Self.hash(w) & (size - 1)
                while table[slot] != 0 {
                    if self.keyEquals(Int(table[slot]) - 1, w) { return } // a repeated key: the first one wins
                    slot = (slot + 1) & (size - 1)
                }
                table[slot] = Int32(k + 1)
            }
            if text == nil {
                insert(UnsafeBufferPointer(start: base + Int(node.a), count: Int(node.b)))
            } else {
                text!.withUTF8(insert)
            }
            k = next(k + 1)
        }
        keyTables[object] = table
        return table
    }

    private static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var h: UInt32 = 2_166_136_261
        for byte in bytes { h = (h ^ UInt32(byte)) &* 16_777_619 }
        return Int(h)
    }

    // MARK: Coding paths

    /// The coding path of the value at tape index `target`, rebuilt by walking down from the root
    /// (skipping siblings' subtrees), so the happy path never tracks paths.
    func codingPath(to target: Int) -> [CodingKey] {
        if let lastPath, lastPath.node == target { return lastPath.path }
        var path: [CodingKey] = []
        var i = 0
        descend: while i != target {
            let node = tape[i]
            switch node.kind {
            case .object:
                var k = i + 1
                for _ in 0..<node.a {
                    let end = next(k + 1)
                    if target > k && target < end {
                        path.append(FastJSONKey(string(at: k)))
                        i = k + 1
                        continue descend
                    }
                    k = end
                }
                break descend
            case .array:
                var e = i + 1
                for index in 0..<Int(node.a) {
                    let end = next(e)
                    if target >= e && target < end {
                        path.append(FastJSONKey(index: index))
                        i = e
                        continue descend
                    }
                    e = end
                }
                break descend
            default:
                break descend
            }
        }
        lastPath = (target, path)
        return path
    }

    private func describe(_ i: Int) -> String {
        switch tape[i].kind {
        case .string: return "a string"
        case .number: return "number"
        case .true, .false: return "bool"
        case .null: return "null"
        case .object: return "a dictionary"
        case .array: return "an array"
        }
    }

    func mismatch(_ type: Any.Type, at i: Int) -> DecodingError {
        if isNull(i) {
            return .valueNotFound(
                type, .init(codingPath: codingPath(to: i), debugDescription: "Cannot get value of type \(name(of: type)) -- found null value instead")
            )
        }
        return .typeMismatch(
            type, .init(codingPath: codingPath(to: i), debugDescription: "Expected to decode \(name(of: type)) but found \(describe(i)) instead."))
    }

    /// `"\(type)"` without demangling for the common ones (`ConfigValue` tries types by catching errors).
    private func name(of type: Any.Type) -> String {
        switch ObjectIdentifier(type) {
        case known.bool: return "Bool"
        case known.int: return "Int"
        case known.double: return "Double"
        case known.string: return "String"
        default: return "\(type)"
        }
    }

    func notRepresentable(at i: Int) -> DecodingError {
        .dataCorrupted(.init(codingPath: codingPath(to: i), debugDescription: "Number \(string(ofNumber: i)) is not representable in Swift."))
    }

    private func string(ofNumber i: Int) -> String {
        String(decoding: UnsafeBufferPointer(start: base + Int(tape[i].a), count: Int(tape[i].b)), as: UTF8.self)
    }

    func keyNotFound(_ key: CodingKey, inObject object: Int) -> DecodingError {
        .keyNotFound(
            key, .init(codingPath: codingPath(to: object), debugDescription: "No value associated with key \(key) (\"\(key.stringValue)\")."))
    }

    // MARK: Values

    func decodeString(at i: Int) throws -> String {
        guard tape[i].kind == .string else { throw mismatch(String.self, at: i) }
        return string(at: i)
    }

    func decodeBool(at i: Int) throws -> Bool {
        switch tape[i].kind {
        case .true: return true
        case .false: return false
        default: throw mismatch(Bool.self, at: i)
        }
    }

    func decodeDouble(at i: Int) throws -> Double {
        guard tape[i].kind == .number else { throw mismatch(Double.self, at: i) }
        guard let d = FastJSONValue.double(base, tape[i]) else { throw notRepresentable(at: i) }
        return d
    }

    func decodeFloat(at i: Int) throws -> Float {
        guard tape[i].kind == .number else { throw mismatch(Float.self, at: i) }
        guard let f = Float(string(ofNumber: i)), f.isFinite else { throw notRepresentable(at: i) }
        return f
    }

    func decodeInteger<T: FixedWidthInteger>(at i: Int, as type: T.Type) throws -> T {
        guard tape[i].kind == .number else { throw mismatch(T.self, at: i) }
        guard let v = FastJSONValue.integer(base, tape[i], as: T.self) else { throw notRepresentable(at: i) }
        return v
    }

    /// Seconds since 1970 or an ISO 8601 string, as `AgentJSON.decoder()`'s date strategy.
    func decodeDate(at i: Int) throws -> Date {
        let node = tape[i]
        switch node.kind {
        case .number:
            if let seconds = FastJSONValue.double(base, node) { return Date(timeIntervalSince1970: seconds) }
            throw mismatch(String.self, at: i)
        case .string:
            let parsed =
                node.flags & FastJSONNode.escaped == 0
                ? FastJSONValue.utcTimestamp(base + Int(node.a), Int(node.b), &dayCache)
                    ?? ISOTime.parse(bytes: UnsafeBufferPointer(start: base + Int(node.a), count: Int(node.b)))
                : ISOTime.parse(string(at: i))
            if let parsed { return parsed }
            throw DecodingError.dataCorrupted(
                .init(codingPath: codingPath(to: i), debugDescription: "'\(string(at: i).prefix(40))' is not an ISO 8601 timestamp"))
        case .null:
            throw mismatch(Date.self, at: i)
        default:
            throw mismatch(String.self, at: i)
        }
    }

    @inline(__always)
    private func optional<V>(_ i: Int, _ decode: (Int) throws -> V) rethrows -> V? {
        if isNull(i) { return nil }
        return try decode(i)
    }

    /// Decodes the value at tape index `i`: common types directly, the others through `init(from:)`.
    func decode<T: Decodable>(_ type: T.Type, at i: Int) throws -> T {
        if let side, let value = try side.value(at: i) { return value as! T }
        let id = ObjectIdentifier(T.self)
        if id == known.string { return unsafeBitCast(try decodeString(at: i), to: T.self) }
        if id == known.int { return unsafeBitCast(try decodeInteger(at: i, as: Int.self), to: T.self) }
        if id == known.double { return unsafeBitCast(try decodeDouble(at: i), to: T.self) }
        if id == known.date { return unsafeBitCast(try decodeDate(at: i), to: T.self) }
        if id == known.bool { return unsafeBitCast(try decodeBool(at: i), to: T.self) }
        if id == known.int64 { return unsafeBitCast(try decodeInteger(at: i, as: Int64.self), to: T.self) }
        if id == known.optionalString { return unsafeBitCast(try optional(i, decodeString), to: T.self) }
        if id == known.optionalInt { return unsafeBitCast(try optional(i) { try decodeInteger(at: $0, as: Int.self) }, to: T.self) }
        if id == known.optionalDouble { return unsafeBitCast(try optional(i, decodeDouble), to: T.self) }
        if id == known.optionalDate { return unsafeBitCast(try optional(i, decodeDate), to: T.self) }
        if id == known.url || id == known.data || id == known.decimal { return try decodeFoundationValue(T.self, at: i) }
        switch route(T.self) {
        case .collection(let collection): return try collection.decode(from: self, at: i, as: T.self)
        case .direct(let direct): return try decodeDirect(direct, at: i, as: T.self)
        case .codable: return try T(from: FastJSONValueDecoder(document: self, node: i))
        }
    }

    // Kept out of `decode`: the compiler fetches the metadata a function needs on entry, for every path.
    @inline(never)
    private func decodeDirect<T>(_ direct: any FastJSONDirect.Type, at i: Int, as: T.Type) throws -> T {
        // A heap cell, not `withUnsafeTemporaryAllocation` (whose generic result costs a metadata lookup).
        let memory = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<T>.size, alignment: MemoryLayout<T>.alignment)
        defer { memory.deallocate() }
        try direct.decode(from: self, at: i, into: memory)
        return memory.assumingMemoryBound(to: T.self).move()
    }

    /// URL, Data (base64) and Decimal, as Foundation's JSONDecoder does by default.
    @inline(never)
    private func decodeFoundationValue<T>(_ type: T.Type, at i: Int) throws -> T {
        let id = ObjectIdentifier(T.self)
        if id == known.url {
            guard let url = URL(string: try decodeString(at: i)) else {
                throw DecodingError.dataCorrupted(.init(codingPath: codingPath(to: i), debugDescription: "Invalid URL string."))
            }
            return unsafeBitCast(url, to: T.self)
        }
        if id == known.data {
            guard let data = Data(base64Encoded: try decodeString(at: i)) else {
                throw DecodingError.dataCorrupted(.init(codingPath: codingPath(to: i), debugDescription: "Encountered Data is not valid Base64."))
            }
            return unsafeBitCast(data, to: T.self)
        }
        if id == known.decimal {
            guard tape[i].kind == .number else { throw mismatch(Decimal.self, at: i) }
            guard let decimal = Decimal(string: string(ofNumber: i), locale: Locale(identifier: "en_US_POSIX")) else { throw notRepresentable(at: i) }
            return unsafeBitCast(decimal, to: T.self)
        }
        preconditionFailure("not a Foundation value type: \(T.self)")
    }

    /// Decodes the root object as `T` while another thread decodes the listed members (in their order),
    /// when they hold at least `minimumNodes` tape nodes together; `T`'s `init(from:)` receives their
    /// values when it asks for them. Values and errors are those of a sequential decode, provided `T`
    /// reads those members last and in that order (a member's error then comes where it would have).
    func decodeInParallel<T: Decodable>(
        _ type: T.Type, members: [(name: String, decode: @Sendable (FastJSONDocument, Int) throws -> Any)],
        minimumNodes: Int
    ) throws -> T {
        guard tape[0].kind == .object else { return try decode(T.self, at: 0) }
        let found = members.compactMap { m in lookup(m.name, inObject: 0).map { (node: $0, decode: m.decode) } }
        guard found.reduce(0, { $0 + next($1.node) - $1.node }) >= minimumNodes else { return try decode(T.self, at: 0) }
        let work = FastJSONSideDecode(nodes: found.map(\.node))
        let reader = FastJSONSendable(FastJSONDocument(sharing: self))
        DispatchQueue.global(qos: .userInitiated).async {
            for (node, decode) in found {
                let result = Result { try decode(reader.value, node) }
                work.store(result, at: node)
                if case .failure = result { break } // a sequential decode stops at the first error too
            }
            work.finish()
        }
        side = work
        defer {
            work.waitUntilFinished() // the other thread reads this document's tape and bytes
            side = nil
        }
        return try decode(T.self, at: 0)
    }

    /// How a type other than the common scalars is decoded.
    enum Route {
        /// Arrays and string-keyed dictionaries are built directly: their `init(from:)` is the standard
        /// library's, which no type can replace, so this gives the same values, only faster.
        case collection(FastJSONCollection.Type)
        /// Hand-written readers and plain string enums (FastJSONReaders.swift).
        case direct(any FastJSONDirect.Type)
        case codable
    }

    func direct(_ type: Any.Type) -> (any FastJSONDirect.Type)? {
        if case .direct(let direct) = route(type) { return direct }
        return nil
    }

    /// The route for `type`. Conformance lookups are slow, so routes are remembered for the process
    /// (`sharedRoutes`) and each document starts with a copy, searched without a lock.
    func route(_ type: Any.Type) -> Route {
        let id = ObjectIdentifier(type)
        let slot = Int(truncatingIfNeeded: UInt(bitPattern: id) >> 4) & (Self.routeSlots - 1)
        if let hit = routeCache[slot], hit.id == id { return hit.route }
        for entry in routes where entry.id == id {
            routeCache[slot] = entry
            return entry.route
        }
        let route: Route
        if let collection = type as? FastJSONCollection.Type {
            route = .collection(collection)
        } else if let direct = type as? any FastJSONDirect.Type {
            route = .direct(direct)
        } else {
            route = .codable
        }
        routes.append((id, route))
        Self.sharedRoutesLock.withLock {
            if !Self.sharedRoutes.contains(where: { $0.id == id }) { Self.sharedRoutes.append((id, route)) }
        }
        return route
    }

    private static let sharedRoutesLock = NSLock()
    nonisolated(unsafe) private static var sharedRoutes: [(id: ObjectIdentifier, route: Route)] = [] // guarded by the lock

    func stringArray(at i: Int) throws -> [String] {
        var strings: [String] = []
        strings.reserveCapacity(Int(tape[i].a))
        var element = i + 1
        for _ in 0..<tape[i].a {
            strings.append(try decodeString(at: element))
            element = next(element)
        }
        return strings
    }

    func checkContainer(_ kind: FastJSONNode.Kind, at i: Int) throws {
        guard tape[i].kind != kind else { return }
        let keyed = kind == .object
        if isNull(i) {
            throw DecodingError.valueNotFound(
                keyed ? [String: Any].self : [Any].self,
                .init(
                    codingPath: codingPath(to: i),
                    debugDescription: "Cannot get \(keyed ? "keyed" : "unkeyed") decoding container -- found null value instead"))
        }
        throw mismatch(keyed ? [String: Any].self : [Any].self, at: i)
    }
}

/// Collections the document decodes without going through their `init(from:)`.
protocol FastJSONCollection {
    static func decode<T>(from document: FastJSONDocument, at i: Int, as: T.Type) throws -> T
}

extension Array: FastJSONCollection where Element: Decodable {
    static func decode<T>(from document: FastJSONDocument, at i: Int, as: T.Type) throws -> T {
        try document.checkContainer(.array, at: i)
        let count = Int(document.tape[i].a)
        if Element.self == String.self { return unsafeBitCast(try document.stringArray(at: i), to: T.self) }
        let direct = document.direct(Element.self)
        let array = try [Element](unsafeUninitializedCapacity: count) { buffer, initialized in
            var element = i + 1
            while initialized < count {
                if let direct { // rows straight into the array's memory
                    try direct.decode(from: document, at: element, into: buffer.baseAddress! + initialized)
                } else {
                    (buffer.baseAddress! + initialized).initialize(to: try document.decode(Element.self, at: element))
                }
                initialized += 1
                element = document.next(element)
            }
        }
        return unsafeBitCast(array, to: T.self)
    }
}

extension Dictionary: FastJSONCollection where Key == String, Value: Decodable {
    static func decode<T>(from document: FastJSONDocument, at i: Int, as: T.Type) throws -> T {
        try document.checkContainer(.object, at: i)
        let pairs = Int(document.tape[i].a)
        var keyNodes: [Int] = []
        keyNodes.reserveCapacity(pairs)
        var k = i + 1
        for _ in 0..<pairs {
            keyNodes.append(k)
            k = document.next(k + 1)
        }
        // Of repeated keys the first one wins (and only its value is decoded), as in Foundation.
        if document.hasRepeatedKeys(keyNodes) {
            var seen = Set<String>()
            keyNodes = keyNodes.filter { seen.insert(document.string(at: $0)).inserted }
        }
        if Value.self == Int.self { // concrete code for the common [String: Int]
            var dictionary = [String: Int](minimumCapacity: keyNodes.count)
            for key in keyNodes { dictionary[document.string(at: key)] = try document.decodeInteger(at: key + 1, as: Int.self) }
            return unsafeBitCast(dictionary, to: T.self)
        }
        var dictionary = [String: Value](minimumCapacity: keyNodes.count)
        for key in keyNodes { dictionary[document.string(at: key)] = try document.decode(Value.self, at: key + 1) }
        return unsafeBitCast(dictionary, to: T.self)
    }
}

/// Metatypes the decoder handles directly, looked up once (comparing with `String?.self` in place would
/// look the metadata up at run time on every call).
struct FastJSONKnownTypes {
    static let shared = FastJSONKnownTypes()
    let string = ObjectIdentifier(String.self)
    let int = ObjectIdentifier(Int.self)
    let double = ObjectIdentifier(Double.self)
    let date = ObjectIdentifier(Date.self)
    let bool = ObjectIdentifier(Bool.self)
    let int64 = ObjectIdentifier(Int64.self)
    let optionalString = ObjectIdentifier(String?.self)
    let optionalInt = ObjectIdentifier(Int?.self)
    let optionalDouble = ObjectIdentifier(Double?.self)
    let optionalDate = ObjectIdentifier(Date?.self)
    let url = ObjectIdentifier(URL.self)
    let data = ObjectIdentifier(Data.self)
    let decimal = ObjectIdentifier(Decimal.self)
}

/// A coding path element: an object key or an array index (`Index n`, as Foundation names them).
struct FastJSONKey: CodingKey {
    let stringValue: String
    private let index: Int

    init(_ key: String) {
        stringValue = key
        index = -1
    }
    init(index: Int) {
        stringValue = "Index \(index)"
        self.index = index
    }
    init?(stringValue: String) { self.init(stringValue) }
    init?(intValue: Int) { self.init(index: intValue) }

    var intValue: Int? { index >= 0 ? index : nil }
}

// MARK: - Decoder and containers

/// The decoder for one value (also its single value container): a document and a tape index.
struct FastJSONValueDecoder: Decoder, SingleValueDecodingContainer {
    let document: FastJSONDocument
    let node: Int

    var codingPath: [CodingKey] { document.codingPath(to: node) }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        try document.checkContainer(.object, at: node)
        return KeyedDecodingContainer(FastJSONKeyedContainer<Key>(document: document, node: node))
    }

    func unkeyedContainer() throws -> UnkeyedDecodingContainer {
        try document.checkContainer(.array, at: node)
        return FastJSONUnkeyedContainer(document: document, node: node)
    }

    func singleValueContainer() throws -> SingleValueDecodingContainer { self }

    func decodeNil() -> Bool { document.isNull(node) }
    func decode(_ type: Bool.Type) throws -> Bool { try document.decodeBool(at: node) }
    func decode(_ type: String.Type) throws -> String { try document.decodeString(at: node) }
    func decode(_ type: Double.Type) throws -> Double { try document.decodeDouble(at: node) }
    func decode(_ type: Float.Type) throws -> Float { try document.decodeFloat(at: node) }
    func decode(_ type: Int.Type) throws -> Int { try document.decodeInteger(at: node, as: type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try document.decodeInteger(at: node, as: type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try document.decodeInteger(at: node, as: type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try document.decodeInteger(at: node, as: type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try document.decodeInteger(at: node, as: type) }
    func decode(_ type: UInt.Type) throws -> UInt { try document.decodeInteger(at: node, as: type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try document.decodeInteger(at: node, as: type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try document.decodeInteger(at: node, as: type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try document.decodeInteger(at: node, as: type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try document.decodeInteger(at: node, as: type) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try document.decode(type, at: node) }
}

/// A keyed container: keys are looked up once each, by bytes (a linear scan over at most a dozen keys
/// comparing a signature first, or a hash table built lazily for bigger objects).
struct FastJSONKeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let document: FastJSONDocument
    let node: Int

    var codingPath: [CodingKey] { document.codingPath(to: node) }

    var allKeys: [Key] {
        var keys: [Key] = []
        var k = node + 1
        for _ in 0..<document.tape[node].a {
            if let key = Key(stringValue: document.string(at: k)) { keys.append(key) }
            k = document.next(k + 1)
        }
        return keys
    }

    @inline(__always)
    private func find(_ key: Key) -> Int? { document.indexedLookup(key.stringValue, inObject: node) }

    @inline(__always)
    private func value(_ key: Key) throws -> Int {
        guard let v = find(key) else { throw document.keyNotFound(key, inObject: node) }
        return v
    }

    /// The value for `key` unless it is missing or null (one lookup).
    @inline(__always)
    private func present(_ key: Key) -> Int? {
        guard let v = find(key), !document.isNull(v) else { return nil }
        return v
    }

    func contains(_ key: Key) -> Bool { find(key) != nil }
    func decodeNil(forKey key: Key) throws -> Bool { document.isNull(try value(key)) }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try document.decodeBool(at: value(key)) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try document.decodeString(at: value(key)) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try document.decodeDouble(at: value(key)) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try document.decodeFloat(at: value(key)) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try document.decodeInteger(at: value(key), as: type) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try document.decodeInteger(at: value(key), as: type) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try document.decodeInteger(at: value(key), as: type) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try document.decodeInteger(at: value(key), as: type) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try document.decodeInteger(at: value(key), as: type) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try document.decodeInteger(at: value(key), as: type) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try document.decodeInteger(at: value(key), as: type) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try document.decodeInteger(at: value(key), as: type) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try document.decodeInteger(at: value(key), as: type) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try document.decodeInteger(at: value(key), as: type) }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try document.decode(type, at: value(key)) }

    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? {
        guard let v = present(key) else { return nil }
        return try document.decodeBool(at: v)
    }
    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? {
        guard let v = present(key) else { return nil }
        return try document.decodeString(at: v)
    }
    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? {
        guard let v = present(key) else { return nil }
        return try document.decodeDouble(at: v)
    }
    func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? {
        guard let v = present(key) else { return nil }
        return try document.decodeFloat(at: v)
    }
    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? {
        guard let v = present(key) else { return nil }
        return try document.decodeInteger(at: v, as: type)
    }
    func decodeIfPresent(_ type: Int8.Type, forKey key: Key) throws -> Int8? {
        guard let v = present(key) else { return nil }
        return try document.decodeInteger(at: v, as: type)
    }
    func decodeIfPresent(_ type: Int16.Type, forKey key: Key) throws -> Int16? {
        guard let v = present(key) else { return nil }
        return try document.decodeInteger(at: v, as: type)
    }
    func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? {
        guard let v = present(key) else { return nil }
        return try document.decodeInteger(at: v, as: type)
    }
    func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? {
        guard let v = present(key) else { return nil }
        return try document.decodeInteger(at: v, as: type)
    }
    func decodeIfPresent(_ type: UInt.Type, forKey key: Key) throws -> UInt? {
        guard let v = present(key) else { return nil }
        return try document.decodeInteger(at: v, as: type)
    }
    func decodeIfPresent(_ type: UInt8.Type, forKey key: Key) throws -> UInt8? {
        guard let v = present(key) else { return nil }
        return try document.decodeInteger(at: v, as: type)
    }
    func decodeIfPresent(_ type: UInt16.Type, forKey key: Key) throws -> UInt16? {
        guard let v = present(key) else { return nil }
        return try document.decodeInteger(at: v, as: type)
    }
    func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? {
        guard let v = present(key) else { return nil }
        return try document.decodeInteger(at: v, as: type)
    }
    func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? {
        guard let v = present(key) else { return nil }
        return try document.decodeInteger(at: v, as: type)
    }
    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let v = present(key) else { return nil }
        return try document.decode(type, at: v)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try FastJSONValueDecoder(document: document, node: value(key)).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer {
        try FastJSONValueDecoder(document: document, node: value(key)).unkeyedContainer()
    }

    func superDecoder() throws -> Decoder {
        guard let v = document.lookup("super", inObject: node) else { throw document.keyNotFound(FastJSONKey("super"), inObject: node) }
        return FastJSONValueDecoder(document: document, node: v)
    }

    func superDecoder(forKey key: Key) throws -> Decoder {
        FastJSONValueDecoder(document: document, node: try value(key))
    }
}

/// An unkeyed container: walks the array's elements in tape order.
struct FastJSONUnkeyedContainer: UnkeyedDecodingContainer {
    let document: FastJSONDocument
    let node: Int
    private var element: Int
    private(set) var currentIndex = 0

    init(document: FastJSONDocument, node: Int) {
        self.document = document
        self.node = node
        element = node + 1
    }

    var codingPath: [CodingKey] { document.codingPath(to: node) }
    var count: Int? { Int(document.tape[node].a) }
    var isAtEnd: Bool { currentIndex >= Int(document.tape[node].a) }

    /// The current element's tape index, moving past it once `body` succeeds.
    @inline(__always)
    private mutating func next<T>(_ type: Any.Type, _ body: (Int) throws -> T) throws -> T {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(
                type,
                .init(
                    codingPath: codingPath + [FastJSONKey(index: currentIndex)],
                    debugDescription: "Unkeyed container is at end."))
        }
        let value = try body(element)
        element = document.next(element)
        currentIndex += 1
        return value
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(
                Any?.self,
                .init(
                    codingPath: codingPath + [FastJSONKey(index: currentIndex)],
                    debugDescription: "Unkeyed container is at end."))
        }
        guard document.isNull(element) else { return false }
        element += 1
        currentIndex += 1
        return true
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { try next(type, document.decodeBool) }
    mutating func decode(_ type: String.Type) throws -> String { try next(type, document.decodeString) }
    mutating func decode(_ type: Double.Type) throws -> Double { try next(type, document.decodeDouble) }
    mutating func decode(_ type: Float.Type) throws -> Float { try next(type, document.decodeFloat) }
    mutating func decode(_ type: Int.Type) throws -> Int { try next(type) { [document] in try document.decodeInteger(at: $0, as: type) } }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try next(type) { [document] in try document.decodeInteger(at: $0, as: type) } }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try next(type) { [document] in try document.decodeInteger(at: $0, as: type) } }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try next(type) { [document] in try document.decodeInteger(at: $0, as: type) } }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try next(type) { [document] in try document.decodeInteger(at: $0, as: type) } }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try next(type) { [document] in try document.decodeInteger(at: $0, as: type) } }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try next(type) { [document] in try document.decodeInteger(at: $0, as: type) } }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try next(type) { [document] in try document.decodeInteger(at: $0, as: type) } }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try next(type) { [document] in try document.decodeInteger(at: $0, as: type) } }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try next(type) { [document] in try document.decodeInteger(at: $0, as: type) } }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next(type) { [document] in try document.decode(type, at: $0) } }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try next(KeyedDecodingContainer<NestedKey>.self) { [document] in
            try FastJSONValueDecoder(document: document, node: $0).container(keyedBy: type)
        }
    }

    mutating func nestedUnkeyedContainer() throws -> UnkeyedDecodingContainer {
        try next(UnkeyedDecodingContainer.self) { [document] in try FastJSONValueDecoder(document: document, node: $0).unkeyedContainer() }
    }

    mutating func superDecoder() throws -> Decoder {
        try next(Decoder.self) { [document] in FastJSONValueDecoder(document: document, node: $0) }
    }
}

/// The members another thread decodes for `FastJSONDocument.decodeInParallel`.
final class FastJSONSideDecode: @unchecked Sendable {
    private let nodes: [Int]
    private var results: [Int: Result<Any, Error>] = [:] // written by the other thread before `finish`
    private let done = DispatchSemaphore(value: 0)
    private var finished = false // read and written by the owning thread only

    init(nodes: [Int]) { self.nodes = nodes }

    func store(_ result: Result<Any, Error>, at node: Int) { results[node] = result }
    func finish() { done.signal() }

    func waitUntilFinished() {
        guard !finished else { return }
        done.wait()
        finished = true
    }

    /// The value decoded for `node`, nil for other nodes (waits for the other thread the first time).
    @inline(__always)
    func value(at node: Int) throws -> Any? {
        guard nodes.contains(node) else { return nil }
        waitUntilFinished()
        guard let result = results[node] else {
            preconditionFailure("decodeInParallel: member at node \(node) was asked for after an earlier member failed")
        }
        return try result.get()
    }
}

/// Hands a document to the thread of `decodeInParallel` (used by that thread only until it finishes).
struct FastJSONSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
