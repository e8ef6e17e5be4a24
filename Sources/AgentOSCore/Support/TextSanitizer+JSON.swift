/// The JSON sink (`--json` outputs): every string, keys included, is cleaned as `.multiLine`
/// (the form the exported files use), so a value decodes to the same visible escapes the screen
/// and the log show (`\x1b`, `<U+202E>`), never to a control: `jq -r` cannot replay an OSC
/// sequence from the bus onto a terminal. The result stays valid JSON; numbers, literals, layout
/// and strings with nothing to clean are copied byte for byte.
extension TextSanitizer {
    public static func cleanJSON(_ bytes: [UInt8]) throws(FastJSONSyntaxError) -> [UInt8] {
        try bytes.withUnsafeBufferPointer { (buffer) throws(FastJSONSyntaxError) -> [UInt8] in
            let (tape, count) = try FastJSONParser.parse(buffer, maxDepth: 512)
            defer { tape.deallocate() }
            let base = buffer.baseAddress!
            var out: [UInt8] = []
            var copied = 0
            for k in 0..<count where tape[k].kind == .string {
                let node = tape[k]
                let start = Int(node.a)
                let n = Int(node.b)
                // Printable ASCII with no escape cannot hold anything to clean.
                if node.flags & FastJSONNode.escaped == 0 && !UnsafeBufferPointer(start: base + start, count: n).contains(where: { $0 >= 0x7F }) {
                    continue
                }
                let text = FastJSONValue.string(base, node)
                let cleaned = clean(text, .multiLine)
                guard cleaned != text else { continue }
                if out.isEmpty { out.reserveCapacity(bytes.count + 64) }
                out.append(contentsOf: buffer[copied..<(start - 1)])
                CanonicalJSON.append(string: cleaned, to: &out)
                copied = start + n + 1 // after the closing quote
            }
            if copied == 0 { return bytes }
            out.append(contentsOf: buffer[copied...])
            return out
        }
    }
}
