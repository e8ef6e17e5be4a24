import CHiredis
import CLibPQ
import CNcursesw
import Testing

/// The four Debian C libraries link and report the versions the notes were written against.
@Suite struct CLibrariesTests {
    @Test func ncurseswIsWide() {
        let version = String(cString: curses_version())
        #expect(version.hasPrefix("ncurses 6"))
        #expect(agentos_wcwidth(0x4E2D) == 2 || agentos_wcwidth(0x4E2D) == -1) // locale-dependent before setlocale
    }

    @Test func hiredisReaderParsesRESP() {
        let reader = redisReaderCreate()!
        defer { redisReaderFree(reader) }
        let wire = "$3\r\na\u{0}b\r\n"
        _ = wire.withCString { redisReaderFeed(reader, $0, 9) }
        var raw: UnsafeMutableRawPointer?
        #expect(redisReaderGetReply(reader, &raw) == REDIS_OK)
        let reply = raw!.assumingMemoryBound(to: redisReply.self).pointee
        #expect(reply.type == REDIS_REPLY_STRING && reply.len == 3)
        freeReplyObject(raw)
    }

    @Test func libpqVersion() {
        #expect(PQlibVersion() >= 150_000)
    }
}
