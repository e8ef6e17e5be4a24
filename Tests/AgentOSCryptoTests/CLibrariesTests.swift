import AgentOSTestSupport
import CHiredis
import CLibPQ
import CNcursesw
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The four Debian C libraries link and report the versions the notes were written against.
@Suite struct CLibrariesTests {
    /// wcwidth answers by LC_CTYPE: under a UTF-8 locale a CJK ideograph is two columns (in "C" it is -1).
    @Test func ncurseswIsWide() throws {
        let version = String(cString: curses_version())
        #expect(version.hasPrefix("ncurses 6"))
        try #require(TestLocale.utf8, "the C.UTF-8 locale is missing")
        #expect(agentos_wcwidth(0x4E2D) == 2)
        #expect(agentos_wcwidth(0x61) == 1)
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
