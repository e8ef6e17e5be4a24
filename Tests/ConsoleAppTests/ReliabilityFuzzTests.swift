import AgentOSCore
import AgentOSTestSupport
import AgentOSWorld
import ConsoleApp
import ConsoleConfig
import ConsoleTerminal
import ConsoleUI
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Checks 11 and 18 of docs/RELIABILITY.md: hostile text in every untrusted field never reaches
/// the screen as an escape, and every decoder (snapshot, events, configuration, theme and key
/// map files, action payloads) answers fuzzed input with a clear error, never a crash. Short in
/// the normal suite; AGENTOS_RELIABILITY_FULL=1 (scripts/reliability.sh) runs the long fuzz.
@Suite("Reliability: fuzzed text and decoders")
struct ReliabilityFuzzTests {
    static var full: Bool { ProcessInfo.processInfo.environment["AGENTOS_RELIABILITY_FULL"] == "1" }
    static func size(fast: Int, full: Int) -> Int { Self.full ? full : fast }

    /// One JSON line of figures into AGENTOS_RELIABILITY_FIGURES (the same shape as the
    /// integration checks write).
    static func record(check: Int, test: String, attempted: Int, executed: Int, refused: Int, escapes: Int, notes: String, ok: Bool, started: Date) {
        ReliabilityFiguresFile.append([
            "check": check, "test": test, "attempted": attempted, "executed": executed, "refused": refused, "audit_rows": 0,
            "replays": 0, "escapes": escapes, "crashes": 0, "notes": notes, "ok": ok, "full": Self.full,
            "seconds": (Date().timeIntervalSince(started) * 10).rounded() / 10
        ])
    }

    // MARK: - Hostile text

    /// The corpus: terminal escapes of every family, single-byte C1, controls, bidi overrides.
    static let corpus: [String] = [
        "\u{1B}[31mred\u{1B}[0m", "\u{1B}[2J\u{1B}[H", "\u{1B}[?1049h", "\u{1B}[6n", "\u{1B}[?1000h",
        "\u{1B}]0;pwned title\u{07}", "\u{1B}]0;t\u{1B}\\",
        "\u{1B}]8;;https://evil.example/\u{1B}\\click me\u{1B}]8;;\u{1B}\\",
        "\u{1B}]52;c;ZWNobyBwd25lZCA+IH4vLmJhc2hyYw==\u{07}", "\u{1B}]52;p;?\u{07}",
        "\u{1B}P1$r0m\u{1B}\\", "\u{1B}P+q544e\u{1B}\\", "\u{1B}_app\u{1B}\\", "\u{1B}^pm\u{1B}\\", "\u{1B}X sos \u{1B}\\",
        "\u{9B}31m", "\u{9D}0;title\u{9C}", "\u{90}dcs\u{9C}", "\u{85}next line", "\u{8D}reverse index",
        "bell\u{07}\u{07}", "over\rwrite", "nul\u{0}byte", "back\u{08}\u{08}space", "tab\there", "vt\u{0B}ff\u{0C}", "del\u{7F}",
        "invoice_\u{202E}fdp.exe", "\u{2066}isolate\u{2069}", "\u{2067}rtl\u{2069}", "\u{2068}first\u{2069}", "\u{202A}\u{202B}\u{202C}\u{202D}",
        "zero\u{200B}width\u{200D}joiner\u{200E}\u{200F}", "\u{FEFF}bom", "\u{061C}arabic mark", "\u{2060}\u{2064}", "\u{FFF9}anno\u{FFFB}",
        "\u{1B}", "\u{1B}[", "\u{1B}]", String(repeating: "\u{1B}[1m", count: 200), "ok \u{1F600} wide 漢字 and é",
        "line one\nline two\n\u{1B}[A\u{1B}[2K", "\r\n\r\n", "\u{1B}c", "\u{1B}#8", "\u{1B}(0lqqk\u{1B}(B",
        "line\u{2028}separator", "para\u{2029}graph", "soft\u{AD}hyphen", "tag\u{E0001}\u{E0065}\u{E006E}\u{E007F}", "\u{E000}private\u{F0000}",
        "unassigned\u{0378}" + String(Unicode.Scalar(0xFFFF)!) + String(Unicode.Scalar(0xFDD0)!), "\u{0600}\u{110BD}\u{1D173}format"
    ]

    /// Bytes that are not UTF-8 (or are the single-byte CSI), for the byte-level decoders.
    static let invalidUTF8: [[UInt8]] = [
        [0xFF], [0x9B, 0x33, 0x31, 0x6D], [0xC0, 0x80], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80],
        [0xF8, 0x88, 0x80, 0x80, 0x80], [0xC2], [0x1B, 0xFF, 0x5B], [0xF4, 0x90, 0x80, 0x80], [0xFE, 0xFE, 0xFF]
    ]

    /// Random hostile text: escape fragments, controls, C1, format characters, separators, tags,
    /// private-use and unassigned scalars, any scalar at all, and ordinary letters mixed.
    static func random(_ rng: inout Fuzz) -> String {
        let pieces: [String] =
            [
                "\u{1B}", "[", "]", "P", "\\", ";", "0", "8", "52", "m", "\u{07}", "\u{9C}", "\u{9D}", "\u{90}", "\r", "\n",
                "\u{200B}", "a", "Z", " ", "é", "漢", "\u{1F600}", "\u{0301}", "\u{FE0F}"
            ] + TerminalSafety.hostileScalars.map { String($0) }
        var s = ""
        for _ in 0..<Int.random(in: 1...24, using: &rng) {
            if Int.random(in: 0..<6, using: &rng) == 0 {
                s.unicodeScalars.append(Unicode.Scalar(UInt32.random(in: 0...0x10FFFF, using: &rng)) ?? "x")
            } else {
                s += pieces.randomElement(using: &rng)!
            }
        }
        return s
    }

    /// Scalars on screen that must not be there, by the Unicode-property oracle (not the sanitiser's own tables).
    static func unsafeScalars(_ text: String) -> Int {
        TerminalSafety.unsafeScalars(text).count
    }

    static func unsafeCells(_ buffer: CellBuffer) -> Int {
        (0..<buffer.height).map { unsafeScalars(buffer.row($0)) }.reduce(0, +)
    }

    // MARK: - Check 11

    /// The sanitiser over the corpus and random input (strings and raw bytes), then whole frames
    /// of every view drawn from snapshots whose untrusted fields carry that input, the status
    /// line fed hostile errors, and the action result line hostile messages.
    @Test func check11HostileTextNeverReachesTheScreenAsAnEscape() throws {
        let started = Date()
        var rng = Fuzz(seed: 1111, junk: Fuzz.reliabilityJunk)
        var inputs = 0
        var escapes = 0
        var withEscape = 0

        // The sanitiser itself: strings and bytes.
        let strings = Self.size(fast: 1_500, full: 100_000)
        for i in 0..<(Self.corpus.count + strings) {
            let s = i < Self.corpus.count ? Self.corpus[i] : Self.random(&rng)
            inputs += 1
            if s.unicodeScalars.contains(where: { $0 == "\u{1B}" || (0x80...0x9F).contains($0.value) }) { withEscape += 1 }
            for options in [TextSanitizer.Options.singleLine, .multiLine] {
                let out = TextSanitizer.clean(s, options)
                let bad = TerminalSafety.unsafeScalars(out).filter { !(options.keepNewlines && $0 == "\n") }.count
                if bad > 0 { Issue.record("clean(\(s.debugDescription)) = \(out.debugDescription)") }
                escapes += bad
            }
        }
        let byteInputs = Self.size(fast: 500, full: 10_000)
        for i in 0..<byteInputs {
            var bytes = Array(Self.random(&rng).utf8)
            let junk = Self.invalidUTF8[i % Self.invalidUTF8.count]
            bytes.insert(contentsOf: junk, at: Int.random(in: 0...bytes.count, using: &rng))
            inputs += 1
            let out = TextSanitizer.clean(bytes: bytes)
            let bad = Self.unsafeScalars(out)
            if bad > 0 { Issue.record("clean(bytes: \(bytes)) = \(out.debugDescription)") }
            escapes += bad
        }

        // Whole frames: the snapshot's free-text fields replaced by hostile input.
        let base = try JSONSerialization.jsonObject(with: try Fixture.snapshot.encoded()) as! [String: Any]
        let freeKeys = Self.freeTextKeys(base)
        #expect(freeKeys.count >= 10, "free-text fields found: \(freeKeys.sorted())")
        let snapshots = Self.size(fast: 4, full: 60)
        var frames = 0
        var rejectedDocs = 0
        var fieldsFuzzed = 0
        var invalidRefused = 0
        var generation = Fixture.snapshot.generation
        for _ in 0..<snapshots {
            generation += 1
            let (data, count) = try Self.hostileDocument(base, keys: freeKeys, generation: generation, &rng)
            fieldsFuzzed += count
            inputs += count
            // Every other document also carries raw invalid UTF-8 and single-byte CSI inside its
            // strings: decoded (and drawn) or refused with a path, never a crash.
            var snapshot: Snapshot?
            if fieldsFuzzed % 2 == 0 {
                inputs += 1
                do throws(DecodeFailure) { snapshot = try Snapshot.decode(Self.injectingInvalidUTF8(data, &rng)) } catch {
                    invalidRefused += 1
                    if !error.path.hasPrefix("$") { Issue.record("invalid UTF-8 refused without a path: \(error)") }
                }
            }
            if snapshot == nil {
                do throws(DecodeFailure) { snapshot = try Snapshot.decode(data) } catch {
                    rejectedDocs += 1
                    if rejectedDocs == 1 { Issue.record("a fuzzed snapshot did not decode: \(error)") }
                    continue
                }
            }
            guard let snapshot else { continue }
            var state = Self.hostileState(snapshot, width: 132, height: 40, &rng)
            for view in ViewID.allCases {
                _ = App.update(&state, .key(.char(Character(String(view.tabIndex + 1)))))
                escapes += Self.unsafeCells(App.render(state))
                _ = App.update(&state, .key(.enter))
                escapes += Self.unsafeCells(App.render(state))
                _ = App.update(&state, .key(.escape))
                frames += 2
            }
            _ = App.update(&state, .key(.char("?")))
            escapes += Self.unsafeCells(App.render(state))
            frames += 1
        }
        #expect(escapes == 0, "\(escapes) unsafe scalars reached the screen or the sanitiser's output")
        #expect(rejectedDocs == 0, "fuzzed free text must decode (or the frames prove nothing): \(rejectedDocs) of \(snapshots) rejected")
        #expect(withEscape > strings / 4)
        Self.record(
            check: 11, test: "ReliabilityFuzzTests/check11HostileTextNeverReachesTheScreenAsAnEscape", attempted: inputs, executed: frames,
            refused: rejectedDocs + invalidRefused, escapes: escapes,
            notes:
                "\(Self.corpus.count) corpus + \(strings) random strings (\(withEscape) with ESC or C1) + \(byteInputs) byte strings with invalid UTF-8; \(fieldsFuzzed) hostile values in \(freeKeys.count) snapshot fields over \(snapshots) snapshots (\(invalidRefused) with raw invalid UTF-8 refused by the decoder), \(frames) frames of every view, detail and help",
            ok: escapes == 0 && rejectedDocs == 0, started: started)
    }

    /// The snapshot `base` with every value of `keys` replaced by hostile text; and how many were replaced.
    static func hostileDocument(_ base: [String: Any], keys: Set<String>, generation: Int, _ rng: inout Fuzz) throws -> (Data, Int) {
        var count = 0
        var doc = replacingStrings(base, keys: keys) { _ in
            count += 1
            return Int.random(in: 0..<3, using: &rng) == 0 ? corpus.randomElement(using: &rng)! : random(&rng)
        }
        doc["generation"] = generation
        return (try JSONSerialization.data(withJSONObject: doc), count)
    }

    /// A console showing `snapshot` with a hostile operator name, disconnect reason and load error.
    static func hostileState(_ snapshot: Snapshot, width: Int, height: Int, _ rng: inout Fuzz) -> AppState {
        var state = AppState(
            connection: ConnectionState(mode: "live", environment: "fuzz"), operatorInfo: OperatorInfo(user: random(&rng), role: "admin"),
            now: Fixture.now, width: width, height: height)
        _ = App.update(&state, .snapshotLoaded(snapshot))
        _ = App.update(&state, .bus(.disconnected(reason: random(&rng), retryInMillis: 1_000)))
        _ = App.update(&state, .snapshotFailed(corpus.randomElement(using: &rng)!))
        return state
    }

    /// Check 11 at the last step: the bytes curses writes for hostile frames (every view, its
    /// detail and the help) to an `xterm-256color` terminal, here a file, carry no escape sequence
    /// or control but the renderer's own and no scalar the oracle calls unsafe.
    @Test func check11TheBytesWrittenToTheTerminalCarryNoEscapeFromTheText() throws {
        var rng = Fuzz(seed: 1112, junk: Fuzz.reliabilityJunk)
        let base = try JSONSerialization.jsonObject(with: try Fixture.snapshot.encoded()) as! [String: Any]
        let freeKeys = Self.freeTextKeys(base)
        try #require(TestLocale.utf8, "curses writes UTF-8 only under a UTF-8 locale")
        let output = try #require(tmpfile())
        let input = try #require(fopen("/dev/null", "r"))
        defer {
            fclose(output)
            fclose(input)
        }
        var frames = 0
        var sawHostileText = false
        do {
            let screen = try CursesScreen(output: output, input: input, terminal: "xterm-256color")
            #expect(screen.unicode && screen.width >= 80 && screen.height >= 24)
            for generation in 1...Self.size(fast: 3, full: 40) {
                let (data, _) = try Self.hostileDocument(base, keys: freeKeys, generation: generation, &rng)
                var state = Self.hostileState(try Snapshot.decode(data), width: screen.width, height: screen.height, &rng)
                func draw() {
                    let frame = App.render(state)
                    sawHostileText = sawHostileText || frame.text().contains("\\x1b")
                    screen.draw(frame)
                    frames += 1
                }
                for view in ViewID.allCases {
                    _ = App.update(&state, .key(.char(Character(String(view.tabIndex + 1)))))
                    draw()
                    _ = App.update(&state, .key(.enter))
                    draw()
                    _ = App.update(&state, .key(.escape))
                }
                _ = App.update(&state, .key(.char("?")))
                draw()
            }
            screen.shutdown()
        }
        let bytes = writtenBytes(output)
        let violations = TerminalSafety.outputViolations(bytes)
        #expect(violations.isEmpty, "\(violations.count) violations in \(bytes.count) bytes, e.g. \(violations.prefix(5))")
        // The scan saw the hostile text drawn, as its visible escapes.
        #expect(sawHostileText && frames == Self.size(fast: 3, full: 40) * (2 * ViewID.allCases.count + 1))
        #expect(String(decoding: bytes, as: UTF8.self).contains("\\x1b"), "the frames' text reached the output")
    }

    /// The keys of string values that take any text (replacing all of one key's values keeps the
    /// snapshot decodable); enums, dates and ids with a format are left alone.
    static func freeTextKeys(_ base: [String: Any]) -> Set<String> {
        var keys = Set<String>()
        func collect(_ value: Any, _ key: String?) {
            if let o = value as? [String: Any] {
                for (k, v) in o { collect(v, k) }
            } else if let a = value as? [Any] {
                for v in a { collect(v, key) }
            } else if value is String, let key {
                keys.insert(key)
            }
        }
        collect(base, nil)
        return keys.filter { key in
            let doc = replacingStrings(base, keys: [key]) { _ in "probe \u{1B}[31m\u{202E}" }
            guard let data = try? JSONSerialization.data(withJSONObject: doc) else { return false }
            return (try? Snapshot.decode(data)) != nil
        }
    }

    static func replacingStrings(_ value: [String: Any], keys: Set<String>, _ make: (String) -> String) -> [String: Any] {
        func walk(_ value: Any, _ key: String?) -> Any {
            if let o = value as? [String: Any] { return Dictionary(uniqueKeysWithValues: o.map { ($0.key, walk($0.value, $0.key)) }) }
            if let a = value as? [Any] { return a.map { walk($0, key) } }
            if let s = value as? String, let key, keys.contains(key) { return make(s) }
            return value
        }
        return walk(value, nil) as! [String: Any]
    }

    /// Puts a few invalid UTF-8 sequences inside string values of the JSON document.
    static func injectingInvalidUTF8(_ data: Data, _ rng: inout Fuzz) -> Data {
        var bytes = [UInt8](data)
        // Positions just after an opening quote of a value (`":"`).
        var starts: [Int] = []
        for i in 2..<bytes.count where bytes[i - 2] == UInt8(ascii: ":") && bytes[i - 1] == UInt8(ascii: "\"") { starts.append(i) }
        for _ in 0..<min(3, starts.count) {
            let at = starts.randomElement(using: &rng)!
            bytes.insert(contentsOf: invalidUTF8.randomElement(using: &rng)!, at: at)
            starts = starts.map { $0 > at ? $0 + 4 : $0 }.filter { $0 < bytes.count }
        }
        return Data(bytes)
    }

    // MARK: - Check 18

    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let sampleConfig = """
        redis:
          url: redis://agentos@cache:6379/0
        postgres:
          url: postgresql://agentos@db:5432/agentos?sslmode=verify-full
        namespace: agentos
        broker_prefix: ""
        environment: { name: production, badge: red }
        refresh_interval: 5
        warm_interval: 5
        theme: default
        keymap: vim
        keys: { bindings: { reload: [F5] } }
        default_view: jobs
        readonly: false
        mouse: false
        wallboard: { enabled: false, views: [dashboard, workers, analytics], interval: 10 }
        log: { level: info }
        """

    /// Malformed snapshots, events, configuration, theme and key map files, and action payloads:
    /// each is accepted or refused with an error naming the place (JSON path, file and line or
    /// key, payload field) and the problem; the last good snapshot stays. A crash would end the run.
    @Test func check18MalformedInputGetsAClearErrorAndNeverACrash() throws {
        let started = Date()
        var rng = Fuzz(seed: 1818, junk: Fuzz.reliabilityJunk)
        let n = Self.size(fast: 200, full: 6_000)
        let files = Self.size(fast: 60, full: 1_000)
        var notes: [String] = []
        var unclear: [String] = []
        var attempted = 0
        var accepted = 0
        var refused = 0
        func note(_ what: String, _ ok: Int, _ bad: Int) {
            notes.append("\(what) \(ok + bad) (\(bad) refused)")
            attempted += ok + bad
            accepted += ok
            refused += bad
        }

        // Snapshots: truncation, byte flips, junk, type swaps, deep nesting, invalid UTF-8.
        let good = Fixture.snapshot
        let base = Array(try good.encoded())
        var holder = SnapshotHolder(good)
        var ok = 0
        var bad = 0
        let junk: [[UInt8]] = [
            [0x00], [0xFF, 0xFE], Array("\u{1B}[2J".utf8), Array("\"".utf8), Array("{".utf8), Array("]".utf8), Array("null".utf8),
            Array("1e999".utf8), Array("-".utf8), [0xC0, 0x80], [0x9B], Array(String(repeating: "[", count: 5_000).utf8),
            Array("\"generation\":-1,".utf8), Array("\"x\":{\"x\":{\"x\":{}}},".utf8)
        ]
        for i in 0..<n {
            var doc = base
            switch i % 5 {
            case 0: doc = Array(doc.prefix(Int.random(in: 0..<doc.count, using: &rng)))
            case 1:
                for _ in 0..<Int.random(in: 1...8, using: &rng) {
                    doc[Int.random(in: 0..<doc.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
            case 2: doc.insert(contentsOf: junk.randomElement(using: &rng)!, at: Int.random(in: 0..<doc.count, using: &rng))
            case 3:
                let text = String(decoding: doc, as: UTF8.self)
                let swaps = [
                    ("\"pending\":", "\"pending\":\"x\","), ("\"status\":\"", "\"status\":7,\"x\":\""), ("\"id\":", "\"id\":null,\"y\":"),
                    ("\"jobs\":", "\"jobs\":[],\"z\":"), ("\"schema\":\"", "\"schema\":\"other/")
                ]
                let (from, to) = swaps.randomElement(using: &rng)!
                doc = Array(text.replacingOccurrences(of: from, with: to).utf8)
            default: doc = Array(String(repeating: "[", count: Int.random(in: 1...100_000, using: &rng)).utf8)
            }
            if let error = holder.accept(Data(doc)) {
                bad += 1
                if !error.path.hasPrefix("$") || error.problem.isEmpty { unclear.append("snapshot: \(error)") }
            } else {
                ok += 1
            }
            if holder.current == nil { unclear.append("snapshot: the last good snapshot was dropped") }
        }
        note("snapshots", ok, bad)

        // Events: every kind the simulator emits, corrupted, then folded into the console's state.
        var sim = FleetSimulator(config: SimulatorConfig(seed: 18), start: Fixture.start)
        let events = sim.advance(to: Fixture.start.addingTimeInterval(120), step: 1)
        let envelopes = try events.prefix(400).enumerated().map {
            try Array(EventEnvelope(seq: Int64($0.offset + 1), ts: Fixture.now, source: "fuzz", event: $0.element).encoded())
        }
        var state = AppState(
            connection: ConnectionState(mode: "live", environment: "fuzz"), operatorInfo: OperatorInfo(user: "alice", role: "admin"), now: Fixture.now
        )
        _ = App.update(&state, .snapshotLoaded(good))
        ok = 0
        bad = 0
        let eventJunk: [[UInt8]] = [
            [0x9B], [0x1B, 0x5D, 0x35, 0x32], [0xFF], [0x00], Array("\u{202E}".utf8), Array("\"".utf8), Array("}".utf8),
            Array("\"seq\":-9,".utf8), Array("\"type\":\"job.nope\",".utf8), Array("\"data\":[],".utf8)
        ]
        for i in 0..<n {
            var doc = envelopes[i % envelopes.count]
            switch i % 3 {
            case 0: doc = Array(doc.prefix(Int.random(in: 0..<doc.count, using: &rng)))
            case 1:
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    doc[Int.random(in: 0..<doc.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
            default: doc.insert(contentsOf: eventJunk.randomElement(using: &rng)!, at: Int.random(in: 0..<doc.count, using: &rng))
            }
            do {
                let envelope = try EventEnvelope.decode(Data(doc))
                _ = App.update(&state, .bus(.event(envelope)))
                ok += 1
            } catch {
                if !error.path.hasPrefix("$") || error.problem.isEmpty { unclear.append("event: \(error)") }
                _ = App.update(&state, .bus(.malformed(error)))
                bad += 1
            }
        }
        if Self.unsafeCells(App.render(state)) > 0 { unclear.append("events: an escape reached the screen") }
        note("events", ok, bad)

        // Configuration, theme and key map files: shipped files and the sample, mutated.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("agentos-rel18-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(at: Self.repo.appendingPathComponent("keymaps/default.yaml"), to: dir.appendingPathComponent("default.yaml"))
        let path = dir.appendingPathComponent("fuzz.yaml")
        func mutated(_ original: String) -> String {
            var text = original
            for _ in 0..<Int.random(in: 1...3, using: &rng) { text = rng.mutate(text) }
            return text
        }
        ok = 0
        bad = 0
        for _ in 0..<files {
            try mutated(Self.sampleConfig).write(to: path, atomically: true, encoding: .utf8)
            // The fuzz is of the content; a file holding a password must be private (D63).
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path.path)
            do {
                _ = try ConfigFile.load(path, environment: [:])
                ok += 1
            } catch {
                bad += 1
                if error.file != path.path || (error.line == nil && error.key == nil) || !error.description.hasPrefix(path.path) {
                    unclear.append("config: \(error)")
                }
            }
        }
        note("config files", ok, bad)
        for kind in ["themes", "keymaps"] {
            ok = 0
            bad = 0
            let originals = try FileManager.default.contentsOfDirectory(at: Self.repo.appendingPathComponent(kind), includingPropertiesForKeys: nil)
                .filter { $0.pathExtension == "yaml" }.map { try String(contentsOf: $0, encoding: .utf8) }
            for i in 0..<files {
                try mutated(originals[i % originals.count]).write(to: path, atomically: true, encoding: .utf8)
                let locator = AssetLocator(kind: kind, directories: [dir])
                let error = kind == "themes" ? locator.theme("fuzz").error : locator.keyMap("fuzz").error
                if let error {
                    bad += 1
                    if error.file != path.path || (error.line == nil && error.key == nil) { unclear.append("\(kind): \(error)") }
                } else {
                    ok += 1
                }
            }
            note(kind == "themes" ? "theme files" : "key map files", ok, bad)
        }

        // Action payloads: every action, random fields of random types, through the whole pipeline.
        let dispatcher = ActionDispatcher(
            .init(
                audit: InMemoryAuditLog(), permissions: StaticPermissions(fallback: Grant(role: .admin)),
                rateLimits: InMemoryRateLimitStore(), idempotency: InMemoryIdempotencyStore(), breakers: InMemoryBreakerStore(),
                executor: NothingExecutor(), cascade: NothingCascade(), scrubber: PIIScrubber(key: Array(repeating: 7, count: 32))),
            options: {
                var o = ActionDispatcher.Options()
                o.rateLimits = false
                return o
            }())
        ok = 0
        bad = 0
        for i in 0..<n {
            let spec = ActionCatalog.all[i % ActionCatalog.all.count]
            var payload: [String: PayloadValue] = [:]
            let names = spec.fields.map(\.name) + ["id", "queue", "x", "password", "", "\u{1B}[31m", String(repeating: "k", count: 300)]
            for _ in 0..<Int.random(in: 0...4, using: &rng) {
                let value: PayloadValue
                switch Int.random(in: 0..<7, using: &rng) {
                case 0: value = .string(Self.random(&rng))
                case 1: value = .int(Int.random(in: Int.min...Int.max, using: &rng))
                case 2: value = .bool(Bool.random(using: &rng))
                case 3: value = .string(String(repeating: "x", count: Int.random(in: 0...5_000, using: &rng)))
                case 4:
                    value = .string(
                        ["-1", "0", "1e9", "NaN", "", " ", "null", "*/0 * * * *", "99:99", "../../etc/passwd"].randomElement(using: &rng)!)
                case 5: value = .string(UUID().uuidString)
                default: value = .int([-1, 0, 1, 65_536, Int.max].randomElement(using: &rng)!)
                }
                payload[names.randomElement(using: &rng)!] = value
            }
            let report = dispatcher.dispatch(
                ActionRequest(
                    action: spec.name, payload: payload, actor: Actor(user: "alice"),
                    reason: Bool.random(using: &rng) ? Self.random(&rng) : nil, confirmation: Self.random(&rng)))
            switch report.outcome {
            case .success: ok += 1
            case .failure(let failure):
                bad += 1
                switch failure {
                case .invalid(let field, let why): if field.isEmpty || why.isEmpty { unclear.append("payload: \(failure)") }
                case .confirmationRequired, .unknownAction: break
                default: unclear.append("payload \(spec.name): unexpected \(failure)")
                }
            }
        }
        note("action payloads", ok, bad)

        #expect(unclear.isEmpty, "\(unclear.count) unclear outcomes, e.g. \(unclear.prefix(5))")
        #expect(refused > attempted / 3, "the mutations must break most inputs: \(notes)")
        Self.record(
            check: 18, test: "ReliabilityFuzzTests/check18MalformedInputGetsAClearErrorAndNeverACrash", attempted: attempted, executed: accepted,
            refused: refused, escapes: 0, notes: notes.joined(separator: "; ") + "; \(unclear.count) without a clear place and problem",
            ok: unclear.isEmpty, started: started)
    }
}

/// Succeeds without touching anything (the payload fuzz is about validation).
struct NothingExecutor: ActionExecutor {
    func execute(_ call: ActionCall) throws(ActionFailure) -> ActionResult { ActionResult("ok") }
    func jobOwner(_ id: String) throws(ActionFailure) -> String? { "alice" }
    func impact(_ spec: ActionSpec, _ payload: Payload) throws(ActionFailure) -> Int? { nil }
}

struct NothingCascade: ActionCascade {
    func invalidateCache() throws {}
    func publish(_ events: [AgentEvent]) throws {}
}

extension Fuzz {
    /// The file fuzzers' junk and what these checks add (a C1 control, anchors, deep nesting, odd numbers).
    static let reliabilityJunk =
        Fuzz.junk + ["\u{9B}", "&anchor [*anchor, *anchor]", String(repeating: "[", count: 300), "0x10", "1e999", "!!float nan"]
}
