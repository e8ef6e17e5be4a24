import AgentOSWorld
import Foundation

/// A deterministic generator (the simulator's SplitMix64) and the line mutations of the file
/// fuzzers (configuration, theme and key map files, and the reliability checks' malformed input).
public struct Fuzz: RandomNumberGenerator {
    private var random: SimRandom
    /// What a mutation inserts or puts in place of a value.
    public let junk: [String]

    public init(seed: UInt64, junk: [String] = Fuzz.junk) {
        // SimRandom starts one increment past its seed; the fuzzers' seeds name the state itself.
        random = SimRandom(seed: seed &- 0x9E37_79B9_7F4A_7C15)
        self.junk = junk
    }

    public mutating func next() -> UInt64 { random.next() }

    public static let junk: [String] = [
        "{", "}", "[", "]", ":", "- ", "\t", "'", "\"", "&a", "*a", "!!binary", "#", "%", "@", "`", "|", ">",
        "\u{1b}[31m", "\u{0}", "\u{202E}", "é", "999", "-1", "#zzzzzz", "bold", "purple", "null", "~", "\n  ", "\n- x: y"
    ]

    /// One mutation of `text`: delete, insert junk, duplicate or swap a line, cut the file, replace a value.
    public mutating func mutate(_ text: String) -> String {
        var lines = text.components(separatedBy: "\n")
        guard !lines.isEmpty else { return text }
        let i = Int.random(in: 0..<lines.count, using: &self)
        switch Int.random(in: 0..<7, using: &self) {
        case 0:
            var chars = Array(lines[i])
            if !chars.isEmpty { chars.remove(at: Int.random(in: 0..<chars.count, using: &self)) }
            lines[i] = String(chars)
        case 1:
            var chars = Array(lines[i])
            chars.insert(contentsOf: junk.randomElement(using: &self)!, at: Int.random(in: 0...chars.count, using: &self))
            lines[i] = String(chars)
        case 2: lines.insert(lines[i], at: i)
        case 3: lines.swapAt(i, Int.random(in: 0..<lines.count, using: &self))
        case 4: lines = Array(lines.prefix(i))
        case 5:
            if let colon = lines[i].lastIndex(of: ":") { lines[i] = String(lines[i][...colon]) + " " + junk.randomElement(using: &self)! }
        default: lines[i] = "  " + lines[i]
        }
        return lines.joined(separator: "\n")
    }
}

extension Fuzz {
    /// One mutant of `text`: one to three mutations.
    public mutating func mutant(of text: String) -> String {
        var text = text
        for _ in 0..<Int.random(in: 1...3, using: &self) { text = mutate(text) }
        return text
    }

    /// The file fuzzers' loop: `count` mutants of each original, each written to `path` and handed to
    /// `check`, which answers whether the file was refused. Returns how many files were written and how
    /// many refused, so that a test can show its mutations did break files.
    public mutating func fuzzFiles(
        _ originals: [String], each count: Int, at path: URL, _ check: (_ text: String) throws -> Bool
    ) throws -> (total: Int, refused: Int) {
        var total = 0
        var refused = 0
        for original in originals {
            for _ in 0..<count {
                let text = mutant(of: original)
                try text.write(to: path, atomically: true, encoding: .utf8)
                total += 1
                if try check(text) { refused += 1 }
            }
        }
        return (total, refused)
    }
}
