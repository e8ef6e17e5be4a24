import AgentOSCore
import Foundation
import Testing

/// D66: the MAC on snapshots, events and control messages, the rotation and the generation bound.
@Suite struct BusAuthTests {
    static let k1 = BusKey(id: "k1", secret: "0123456789abcdef-one")!
    static let k2 = BusKey(id: "k2", secret: "0123456789abcdef-two")!
    static let body = Array(#"{"schema":"agentos.admin.ssot/4","generation":7,"source":"live"}"#.utf8)

    func open(_ bytes: [UInt8], _ keys: BusKeys, _ kind: BusAuth.Kind = .snapshot, ns: String = "agentos") -> Result<([UInt8], BusSeal?), BusRefusal>
    {
        BusAuth.open(bytes, keys: keys, kind: kind, namespace: ns)
    }

    @Test func signedMessagesVerifyAndComeBackAsTheyWereSigned() throws {
        let keys = BusKeys(current: Self.k1)
        let sealed = BusAuth.seal(Self.body, keys: keys, kind: .snapshot, namespace: "agentos", number: 7, millis: 1_000)
        let text = String(decoding: sealed, as: UTF8.self)
        #expect(text.hasPrefix(String(decoding: Self.body.dropLast(), as: UTF8.self) + #","mac":"v1.k1.7.1000."#) && text.hasSuffix(#""}"#))
        // Still JSON, with one more member that other readers ignore.
        #expect((try JSONSerialization.jsonObject(with: Data(sealed)) as? [String: Any])?["generation"] as? Int == 7)
        let (body, seal) = try open(sealed, keys).get()
        #expect(body == Self.body && seal?.keyID == "k1" && seal?.number == 7 && seal?.millis == 1_000)
    }

    @Test func forgedAlteredOrUnsignedMessagesAreRefused() throws {
        let keys = BusKeys(current: Self.k1)
        let sealed = BusAuth.seal(Self.body, keys: keys, kind: .snapshot, namespace: "agentos", number: 7)
        // Unsigned while a key is held.
        #expect(throws: BusRefusal.unsigned) { try open(Self.body, keys).get() }
        // The body altered (a generation raised): the MAC no longer matches.
        let altered = Array(
            String(decoding: sealed, as: UTF8.self).replacingOccurrences(of: #""generation":7"#, with: #""generation":9223372036854775807"#).utf8)
        #expect(throws: BusRefusal.badMAC) { try open(altered, keys).get() }
        // Signed by someone without the key (another key under the same id).
        let forger = BusKey(id: "k1", secret: "not-the-deployment-key")!
        let forged = BusAuth.seal(Self.body, keys: BusKeys(current: forger), kind: .snapshot, namespace: "agentos", number: 7)
        #expect(throws: BusRefusal.badMAC) { try open(forged, keys).get() }
        // The same message replayed in another namespace or as another kind.
        #expect(throws: BusRefusal.badMAC) { try open(sealed, keys, ns: "other").get() }
        #expect(throws: BusRefusal.badMAC) { try open(sealed, keys, .event).get() }
        // A MAC that is not one.
        #expect(throws: BusRefusal.malformedMAC) { try open(Array(#"{"a":1,"mac":"v1.k1.x.1.ab"}"#.utf8), keys).get() }
    }

    @Test func rotationAcceptsTwoKeysAndSignsWithTheCurrentOne() throws {
        let old = BusKeys(current: Self.k1)
        let rotating = BusKeys(current: Self.k2, previous: Self.k1)
        let rotated = BusKeys(current: Self.k2)
        let byOld = BusAuth.seal(Self.body, keys: old, kind: .event, namespace: "agentos", number: 7)
        let byNew = BusAuth.seal(Self.body, keys: rotating, kind: .event, namespace: "agentos", number: 7)
        #expect(String(decoding: byNew, as: UTF8.self).contains(#""mac":"v1.k2.7."#))
        // During the rotation both are accepted; a console not yet rotated accepts only its own.
        #expect(try open(byOld, rotating, .event).get().1?.keyID == "k1")
        #expect(try open(byNew, rotating, .event).get().1?.keyID == "k2")
        #expect(throws: BusRefusal.unknownKey("k2")) { try open(byNew, old, .event).get() }
        // Once the old key is dropped, what it signs is refused.
        #expect(throws: BusRefusal.unknownKey("k1")) { try open(byOld, rotated, .event).get() }
    }

    @Test func withoutAKeyEverythingPassesAsBefore() throws {
        let sealed = BusAuth.seal(Self.body, keys: BusKeys(current: Self.k1), kind: .snapshot, namespace: "agentos", number: 7)
        #expect(BusAuth.seal(Self.body, keys: .none, kind: .snapshot, namespace: "agentos", number: 7) == Self.body)
        #expect(try open(Self.body, .none).get().0 == Self.body)
        #expect(try open(sealed, .none).get().0 == Self.body)
    }

    @Test func controlMessagesOutsideTheWindowAreReplays() throws {
        let keys = BusKeys(current: Self.k1)
        let message = BusAuth.sealControl(#"{"command":"worker.pause","target":"w1"}"#, keys: keys, namespace: "agentos")
        let now = BusAuth.nowMillis()
        #expect(
            String(decoding: try BusAuth.openControl(message, keys: keys, namespace: "agentos", nowMillis: now).get(), as: UTF8.self).contains(
                "worker.pause"))
        #expect(throws: BusRefusal.self) { try BusAuth.openControl(message, keys: keys, namespace: "agentos", nowMillis: now + 600_000).get() }
        #expect(throws: BusRefusal.unsigned) {
            try BusAuth.openControl(Array(#"{"command":"worker.pause","target":"w1"}"#.utf8), keys: keys, namespace: "agentos").get()
        }
    }

    @Test func keysAreNeverShownAndIDsAreChecked() {
        #expect("\(Self.k1)" == "<bus key k1>" && !String(reflecting: BusKeys(current: Self.k1)).contains("0123456789"))
        #expect(BusKey(id: "k1", secret: "short") == nil && BusKey(id: "a.b", secret: "0123456789abcdef") == nil)
        #expect(SecretRedactor.redact("AGENTOS_BUS_KEY=0123456789abcdef AGENTOS_BUS_KEY_ID=k1") == "AGENTOS_BUS_KEY=*** AGENTOS_BUS_KEY_ID=k1")
    }

    static func snapshot(_ generation: Int) -> Snapshot {
        Snapshot(generation: generation, generatedAt: Date(timeIntervalSince1970: 0), source: "live")
    }

    @Test func aGenerationMayNotJumpBeyondWhatAWarmerCouldProduce() {
        let t0 = Date(timeIntervalSince1970: 1_000_000)
        var holder = SnapshotHolder()
        #expect(holder.accept(Self.snapshot(29), now: t0) == nil)
        // A forged maximum generation: refused, the held snapshot stays.
        #expect(holder.accept(Self.snapshot(Int.max), now: t0.addingTimeInterval(1))?.path == "$.generation")
        #expect(holder.current?.generation == 29 && holder.jumpsRefused == 1)
        // Just beyond the bound, and just within it 10 s later (10,000 + 1,000 a second).
        #expect(holder.accept(Self.snapshot(29 + 10_001), now: t0) != nil)
        #expect(holder.accept(Self.snapshot(29 + 20_000), now: t0.addingTimeInterval(10)) == nil)
        #expect(holder.current?.generation == 29 + 20_000)
    }

    @Test func anOlderGenerationIsRefusedTwiceThenAdopted() {
        let t0 = Date(timeIntervalSince1970: 1_000_000)
        var holder = SnapshotHolder()
        #expect(holder.accept(Self.snapshot(5_000), now: t0) == nil)
        // Redis restarted: the counter began again.
        #expect(holder.accept(Self.snapshot(1), now: t0) != nil)
        #expect(holder.accept(Self.snapshot(2), now: t0) != nil)
        #expect(holder.current?.generation == 5_000)
        #expect(holder.accept(Self.snapshot(3), now: t0) == nil)
        #expect(holder.current?.generation == 3 && holder.olderInARow == 0)
        // A newer one in between resets the count.
        #expect(holder.accept(Self.snapshot(2), now: t0) != nil)
        #expect(holder.accept(Self.snapshot(4), now: t0) == nil)
        #expect(holder.accept(Self.snapshot(1), now: t0) != nil)
    }
}
