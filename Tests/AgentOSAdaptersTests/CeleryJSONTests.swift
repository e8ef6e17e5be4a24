import AgentOSCore
import Foundation
import Testing

@testable import AgentOSAdapters

/// The Celery frames' own JSON parser (D79) gives the trees Foundation's decoder gives, on every
/// captured Celery 5.7 frame and its body, and refuses what is not JSON.
@Suite("Celery JSON parser")
struct CeleryJSONTests {
    @Test func capturedFramesAndBodiesParseAsWithFoundation() throws {
        var bodies = 0
        for f in try CeleryProtocolTests.frames() {
            let mine = try CeleryJSON.parse(f.payload)
            #expect(mine == (try JSONTree.parse(f.payload)), "\(f.target)")
            guard let text = mine["body"]?.string, let data = Data(base64Encoded: text) else { continue }
            let a = try CeleryJSON.parse(Array(data))
            let b = try JSONTree.parse(Array(data))
            #expect(a == b, "\(f.target) body: \(Self.firstDifference(a, b) ?? "")")
            bodies += 1
        }
        #expect(bodies > 10)
    }

    /// Where two trees first differ, and how.
    static func firstDifference(_ a: JSONTree, _ b: JSONTree, path: String = "$") -> String? {
        switch (a, b) {
        case (.object(let x), .object(let y)):
            for k in Set(x.keys).union(y.keys).sorted() {
                guard let u = x[k], let v = y[k] else { return "\(path).\(k): present in one only" }
                if let d = firstDifference(u, v, path: path + "." + k) { return d }
            }
            return nil
        case (.array(let x), .array(let y)):
            guard x.count == y.count else { return "\(path): \(x.count) against \(y.count) items" }
            for (i, (u, v)) in zip(x, y).enumerated() { if let d = firstDifference(u, v, path: "\(path)[\(i)]") { return d } }
            return nil
        default:
            return a == b
                ? nil
                : "\(path): \(a) (\(Mirror(reflecting: a).children.first?.label ?? "")) against \(b) (\(Mirror(reflecting: b).children.first?.label ?? ""))"
        }
    }

    @Test(arguments: [
        #"{"a": [1, -2, 3.5, -0.25, 1.5e3, true, false, null, "x"], "b": {}, "c": [], "d": {"e": {"f": [[]]}}}"#,
        #"  {"esc": "q\" b\\ s\/ \b\f\n\r\t", "u": "\u00e9\u4e2d\ud83d\ude00", "raw": "é中😀", "big": 123456789012345678901234}  "#,
        #"[0, 10, -10, 9223372036854775807, 1.0e-3, "", " "]"#
    ])
    func valuesParseAsWithFoundation(_ text: String) throws {
        let a = try CeleryJSON.parse(Array(text.utf8))
        let b = try JSONTree.parse(Array(text.utf8))
        #expect(a == b, "\(Self.firstDifference(a, b) ?? "")")
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\" 1}", "{\"a\": 1,}", "tru", "nul", "01x", "-", "\"abc", "\"\\x\"", "\"\\ud800\"", "[1] 2", "{1: 2}"
    ])
    func notJSONIsRefused(_ text: String) {
        #expect(throws: (any Error).self) { try CeleryJSON.parse(Array(text.utf8)) }
    }

    @Test func invalidUTF8IsRefused() {
        #expect(throws: (any Error).self) { try CeleryJSON.parse([0x22, 0xFF, 0xFE, 0x22]) }
    }
}
