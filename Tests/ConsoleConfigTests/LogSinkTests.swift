import ConsoleConfig
import Foundation
import Logging
import Testing

/// Issue 18 item 2 (D64): the log file is a sink like the screen: message and metadata cleaned.
@Suite struct LogSinkTests {
    @Test func controlCharactersFromTheBusReachTheLogAsVisibleEscapes() throws {
        let url = Repo.temporaryDirectory().appendingPathComponent("state/agentos/agentos.log")
        let log = Logger(label: "test", factory: try FileLogHandler.factory(url, level: .info))
        let forged = "mallory\u{1b}]52;c;ZXZpbA==\u{07}\u{9b}\u{202E}"
        log.info("\(forged) ran job.cancel\rtabs\there", metadata: ["user": "\(forged)", "k\u{1b}": "v"])
        let bytes = try Data(contentsOf: url)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(
            text.contains("test: mallory\\x1b]52;c;ZXZpbA==\\x07\\x9b<U+202E> ran job.cancel\\rtabs\\there k\\x1b=v user=mallory\\x1b]52"), "\(text)")
        for (label, needle) in [
            ("ESC", [0x1b] as [UInt8]), ("BEL", [0x07]), ("CR", [0x0d]), ("TAB", [0x09]), ("C1 CSI", [0xc2, 0x9b]), ("U+202E", [0xe2, 0x80, 0xae])
        ] {
            #expect(bytes.range(of: Data(needle)) == nil, "\(label) reached the log file")
        }
        #expect(bytes.filter { $0 == 0x0A }.count == 1)
    }
}
