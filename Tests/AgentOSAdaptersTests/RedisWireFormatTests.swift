import CHiredis
import Foundation
import Testing

@testable import AgentOSAdapters

/// The console writes RESP itself (D78); hiredis's own formatter is the reference.
struct RedisWireFormatTests {
    static func hiredis(_ argv: [[UInt8]]) -> [UInt8] {
        let copies = argv.map { arg -> UnsafeMutablePointer<CChar> in
            let p = UnsafeMutablePointer<CChar>.allocate(capacity: max(1, arg.count))
            for (i, b) in arg.enumerated() { p[i] = CChar(bitPattern: b) }
            return p
        }
        defer { copies.forEach { $0.deallocate() } }
        var pointers: [UnsafePointer<CChar>?] = copies.map { UnsafePointer($0) }
        let lengths = argv.map(\.count)
        var target: UnsafeMutablePointer<CChar>?
        let len = redisFormatCommandArgv(&target, Int32(argv.count), &pointers, lengths)
        defer { redisFreeCommand(target) }
        return UnsafeRawBufferPointer(start: target, count: Int(len)).map { $0 }
    }

    @Test func commandsAreWrittenAsHiredisWritesThem() throws {
        let commands: [[[UInt8]]] = [
            [Array("PING".utf8)],
            [Array("SET".utf8), Array("key".utf8), []], // an empty argument
            [Array("SET".utf8), Array("k".utf8), [0, 13, 10, 255, 36]], // binary, with CR LF and $
            [Array("EVAL".utf8), [UInt8](repeating: 120, count: 9), [UInt8](repeating: 121, count: 10), [UInt8](repeating: 122, count: 1_234)],
            (0..<12).map { Array("arg\($0)".utf8) }, // more than 9 arguments
            [Array("SET".utf8), Array("big".utf8), [UInt8](repeating: 7, count: 100_000)]
        ]
        for argv in commands {
            var wire: [UInt8] = [1, 2] // what an earlier command of the same pipeline left
            try RedisConnection.format(argv, into: &wire)
            let same = wire == [1, 2] + Self.hiredis(argv) // not the arrays themselves: one is 100 KB
            #expect(same, "argument lengths \(argv.map(\.count)): \(String(decoding: wire.prefix(40), as: UTF8.self))")
        }
        var wire: [UInt8] = []
        #expect(throws: RedisError.self) { try RedisConnection.format([], into: &wire) }
    }

    /// Strings and integers write themselves into the command (no array per argument): the same
    /// bytes as their `redisBytes` through hiredis.
    @Test func everyKindOfArgumentIsWrittenAsHiredisWritesItsBytes() throws {
        let small = "rl:user:job.cancel"
        let commands: [[any RedisArgument]] = [
            ["SET", small, ""],
            ["SET", "ünïcødé 🚀 \r\n$", String(repeating: "x", count: 70_000)],
            ["EXPIRE", "k", 0, 9, 10, 99, 100, -1, -10, Int.max, Int.min],
            ["INCRBY", "k", Int64(0), Int64(-7), Int64.max, Int64.min],
            ["SET", "k", 1.5, 0.1, -2.0, small.dropFirst(3), Substring("")],
            [[UInt8]("HSET".utf8), [UInt8](), [0, 13, 10]]
        ]
        for argv in commands {
            var wire: [UInt8] = [9]
            try RedisConnection.format(argv, into: &wire)
            let expected = [9] + Self.hiredis(argv.map(\.redisBytes))
            let same = wire == expected // not the arrays themselves: one is 70 KB
            #expect(same, "\(argv.map { String(decoding: $0.redisBytes.prefix(20), as: UTF8.self) })")
        }
    }
}
