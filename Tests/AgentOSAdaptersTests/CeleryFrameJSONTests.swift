import AgentOSCore
import Foundation
import Testing

/// `JSONTree.parse` (D82; JSONTreeParseTests has the edge cases) gives the trees Foundation's decoder
/// gives on every captured Celery 5.7 frame and its body.
@Suite("Celery frames' JSON")
struct CeleryFrameJSONTests {
    @Test func capturedFramesAndBodiesParseAsWithFoundation() throws {
        var bodies = 0
        for f in try CeleryProtocolTests.frames() {
            let mine = try JSONTree.parse(f.payload)
            #expect(mine == (try JSONDecoder().decode(JSONTree.self, from: Data(f.payload))), "\(f.target)")
            guard let text = mine["body"]?.string, let data = Data(base64Encoded: text) else { continue }
            let a = try JSONTree.parse(Array(data))
            let b = try JSONDecoder().decode(JSONTree.self, from: data)
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
}
