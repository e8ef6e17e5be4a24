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

    // The splits below remain for the callers not yet moved to `Layout`, which they are thin wrappers over.

    /// The first `n` rows and the rest.
    public func splitTop(_ n: Int) -> (Rect, Rect) {
        let parts = Layout.vertical([.length(n), .fill(1)]).split(self)
        return (parts[0], parts[1])
    }

    /// The last `n` rows and the rest (rest first).
    public func splitBottom(_ n: Int) -> (Rect, Rect) {
        let parts = Layout.vertical([.fill(1), .length(n)]).split(self)
        return (parts[0], parts[1])
    }

    /// The first `n` columns and the rest.
    public func splitLeft(_ n: Int) -> (Rect, Rect) {
        let parts = Layout.horizontal([.length(n), .fill(1)]).split(self)
        return (parts[0], parts[1])
    }

    /// Splits into columns by weights, with `gap` cells between them.
    public func columns(_ weights: [Int], gap: Int = 1) -> [Rect] {
        Layout.horizontal(weights.map { .fill($0) }).spacing(gap).split(self)
    }

    /// Splits into rows by weights, with `gap` rows between them.
    public func rows(_ weights: [Int], gap: Int = 0) -> [Rect] {
        Layout.vertical(weights.map { .fill($0) }).spacing(gap).split(self)
    }

    /// A centred rectangle of at most `width`×`height`.
    public func centered(width w: Int, height h: Int) -> Rect {
        let cw = min(w, width)
        let ch = min(h, height)
        return Rect(x: x + (width - cw) / 2, y: y + (height - ch) / 2, width: cw, height: ch)
    }
}
