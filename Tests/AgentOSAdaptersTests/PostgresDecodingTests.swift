import AgentOSCore
import Foundation
import Testing

@testable import AgentOSAdapters

@Suite struct PostgresDecodingTests {
    @Test func timestampRoundTrip() throws {
        let d = Date(timeIntervalSince1970: 1_795_729_200.123456)
        let text = PostgresTimestamp.format(d)
        #expect(text == "2026-11-26T21:40:00.123456Z")
        let back = try #require(PostgresTimestamp.parse(text))
        #expect(abs(back.timeIntervalSince1970 - d.timeIntervalSince1970) < 0.000_001)
    }

    @Test func serverFormatsParse() throws {
        let base = try #require(PostgresTimestamp.parse("2026-11-26 21:40:00+00"))
        #expect(base.timeIntervalSince1970 == 1_795_729_200)
        let withOffset = try #require(PostgresTimestamp.parse("2026-11-26 23:10:00.5+01:30"))
        #expect(withOffset.timeIntervalSince1970 == 1_795_729_200.5)
        #expect(PostgresTimestamp.parse("1969-12-31 23:59:59+00")?.timeIntervalSince1970 == -1)
        #expect(PostgresTimestamp.parse("infinity") == .distantFuture)
    }

    @Test(arguments: ["", "2026-13-01 00:00:00+00", "2026-11-26", "2026-11-26 21:40:00+0x", "garbage here ok?", "2026-11-26 21:40:00+00 trailing"])
    func malformedTimestampsAreRejected(text: String) {
        #expect(PostgresTimestamp.parse(text) == nil)
    }

    @Test func decodeErrorsNameTheColumn() {
        do {
            _ = try Int.decode(postgresText: "12x", column: "attempts")
            Issue.record("should fail")
        } catch {
            #expect(error.description.contains("attempts") && error.description.contains("12x"))
        }
        do {
            _ = try Int.decodeNull(column: "priority")
            Issue.record("should fail")
        } catch {
            #expect(error.description.contains("priority") && error.description.contains("NULL"))
        }
    }

    @Test func byteaHex() throws {
        #expect(try [UInt8].decode(postgresText: "\\x00ff10", column: "b") == [0, 255, 16])
        #expect(throws: PostgresError.self) { try [UInt8].decode(postgresText: "00ff", column: "b") }
    }

    @Test func textArrayLiteral() {
        #expect(PostgresTextArray.parse("{}") == [])
        #expect(PostgresTextArray.parse("{a,b,NULL}") == ["a", "b", nil])
        #expect(PostgresTextArray.parse("{\"x,y\",\"q\\\"uote\",\"NULL\"}") == ["x,y", "q\"uote", "NULL"])
        #expect(PostgresValue.arrayLiteral(["x,y", "q\"uote"]) == "{\"x,y\",\"q\\\"uote\"}")
    }

    /// `read_from=` and `pooler=` are the console's: taken out of URLs and key/value strings before libpq sees them.
    @Test func readFromIsTakenOutOfTheConnectionString() throws {
        let url = try PostgresTarget("postgresql://u@h1:5432,h2:5433/db?read_from=standby&target_session_attrs=read-write")
        #expect(url.readsFromStandby && url.hostCount == 2 && url.targetSessionAttrs == "read-write")
        #expect(url.conninfo == "postgresql://u@h1:5432,h2:5433/db?target_session_attrs=read-write")
        let kv = try PostgresTarget("host=h1,h2 read_from=primary dbname=x")
        #expect(!kv.readsFromStandby && kv.conninfo == "host=h1,h2 dbname=x" && kv.targetSessionAttrs == nil)
        #expect(throws: PostgresError.self) { try PostgresTarget("host=h read_from=replica") }
        let plain = PostgresClient("host=h1,h2 dbname=x")
        #expect(plain.reads === plain)
        let split = PostgresClient("host=h1,h2 dbname=x read_from=standby")
        #expect(split.reads !== split && split.reads.targetSessionAttrs == "prefer-standby")
    }

    @Test func redaction() {
        #expect(SecretRedactor.redact("postgresql://u:pw@h:5432/db") == "postgresql://u:***@h:5432/db")
        #expect(SecretRedactor.redact("host=h password=pw dbname=x") == "host=h password=*** dbname=x")
        #expect(
            SecretRedactor.redact("postgresql://u:pw@h1:5432,h2:5433/db?target_session_attrs=read-write")
                == "postgresql://u:***@h1:5432,h2:5433/db?target_session_attrs=read-write")
        #expect(
            SecretRedactor.redact("postgresql://u@h1,h2/db?password=pw&pooler=transaction")
                == "postgresql://u@h1,h2/db?password=***&pooler=transaction")
    }
}
