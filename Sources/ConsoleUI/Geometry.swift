/// A rectangle of terminal cells.
public struct Rect: Sendable, Equatable, CustomStringConvertible {
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = max(0, width)
        self.height = max(0, height)
    }

    public var maxX: Int { x + width }
    public var maxY: Int { y + height }
    public var isEmpty: Bool { width == 0 || height == 0 }
    public var description: String { "\(width)x\(height)@\(x),\(y)" }

    /// Shrinks by `n` cells on every side.
    public func inset(_ n: Int) -> Rect { inset(top: n, left: n, bottom: n, right: n) }

    public func inset(top: Int = 0, left: Int = 0, bottom: Int = 0, right: Int = 0) -> Rect {
        Rect(x: x + left, y: y + top, width: width - left - right, height: height - top - bottom)
    }

    /// The first `n` rows and the rest.
    public func splitTop(_ n: Int) -> (Rect, Rect) {
        let h = min(max(0, n), height)
        return (Rect(x: x, y: y, width: width, height: h), Rect(x: x, y: y + h, width: width, height: height - h))
    }

    /// The last `n` rows and the rest (rest first).
    public func splitBottom(_ n: Int) -> (Rect, Rect) {
        let h = min(max(0, n), height)
        return (Rect(x: x, y: y, width: width, height: height - h), Rect(x: x, y: maxY - h, width: width, height: h))
    }

    public func splitLeft(_ n: Int) -> (Rect, Rect) {
        let w = min(max(0, n), width)
        return (Rect(x: x, y: y, width: w, height: height), Rect(x: x + w, y: y, width: width - w, height: height))
    }

    /// Splits into columns by weights, with `gap` cells between them.
    public func columns(_ weights: [Int], gap: Int = 1) -> [Rect] {
        split(total: width, weights: weights, gap: gap).map { Rect(x: x + $0.offset, y: y, width: $0.size, height: height) }
    }

    /// Splits into rows by weights, with `gap` rows between them.
    public func rows(_ weights: [Int], gap: Int = 0) -> [Rect] {
        split(total: height, weights: weights, gap: gap).map { Rect(x: x, y: y + $0.offset, width: width, height: $0.size) }
    }

    /// A centred rectangle of at most `width`×`height`.
    public func centered(width w: Int, height h: Int) -> Rect {
        let cw = min(w, width)
        let ch = min(h, height)
        return Rect(x: x + (width - cw) / 2, y: y + (height - ch) / 2, width: cw, height: ch)
    }

    private func split(total: Int, weights: [Int], gap: Int) -> [(offset: Int, size: Int)] {
        guard !weights.isEmpty else { return [] }
        let available = max(0, total - gap * (weights.count - 1))
        let sum = max(1, weights.reduce(0, +))
        var sizes = weights.map { available * $0 / sum }
        var remainder = available - sizes.reduce(0, +)
        var i = 0
        while remainder > 0 {
            sizes[i % sizes.count] += 1
            remainder -= 1
            i += 1
        }
        var offset = 0
        return sizes.map { size in
            defer { offset += size + gap }
            return (offset, size)
        }
    }
}
