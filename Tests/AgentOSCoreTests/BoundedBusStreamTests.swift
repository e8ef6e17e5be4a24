import AgentOSCore
import Foundation
import Testing

/// Issue 18 item 4 (D64): the subscriber's buffer is bounded; when full it drops, and the
/// consumer is told how many before anything newer (it reloads).
@Suite struct BoundedBusStreamTests {
    static func event(_ seq: Int64) -> BusMessage {
        .event(EventEnvelope(seq: seq, ts: Date(timeIntervalSince1970: 0), source: "test", event: .cacheInvalidated))
    }

    @Test func aFullBufferDropsCountsAndSaysSoBeforeTheNextMessage() async {
        let bus = BoundedBusStream(limit: 10)
        bus.yield(.connected(gapPossible: false))
        for seq: Int64 in 1...30 { bus.yield(Self.event(seq)) } // 9 fit, 21 dropped
        var it = bus.stream.makeAsyncIterator()
        var first: [BusMessage] = []
        for _ in 0..<10 { if let m = await it.next() { first.append(m) } }
        #expect(first == [.connected(gapPossible: false)] + (Int64(1)...9).map(Self.event))
        bus.yield(Self.event(31))
        bus.finish()
        var rest: [BusMessage] = []
        while let m = await it.next() { rest.append(m) }
        #expect(rest == [.overflowed(dropped: 21), Self.event(31)])
    }
}
