/// How a `Layout` sizes one of its parts (after ratatui's `Constraint`).
public enum Constraint: Sendable, Equatable {
    /// Exactly `n` cells.
    case length(Int)
    /// At least `n` cells; the parts of this kind share what is left when there is no `.fill`.
    case min(Int)
    /// At most `n` cells.
    case max(Int)
    /// `p` per cent (0…100) of the room after margins and spacing.
    case percentage(Int)
    /// `a`/`b` (at most 1) of the room after margins and spacing.
    case ratio(Int, Int)
    /// A share, by weight, of what the other parts leave.
    case fill(Int)
}

/// Splits a rectangle into parts along one direction, by constraints: no part is negative, and the
/// parts and the gaps between them tile the area (less its margins) exactly.
///
/// Sizing: every part first gets what it asks for (`.fill` nothing). When that is too much, the
/// parts give way in this order, each kind in proportion to its size: percentages and ratios, then
/// lengths and maxima, minima last. When it leaves room, the room goes to the `.fill` parts by
/// weight, else shared by the `.min` parts, else to the last part that is not a `.max` (the last
/// part when all are). Cells a division leaves over go one each to the first parts when growing,
/// and come off the last parts when shrinking.
public struct Layout: Sendable, Equatable {
    public enum Direction: Sendable, Equatable {
        case horizontal
        case vertical
    }

    public var direction: Direction
    public var constraints: [Constraint]
    /// Cells left empty on the left and right, and on the top and bottom, of the area.
    public var horizontalMargin: Int
    public var verticalMargin: Int
    /// Cells between two parts; shrinks only when the area is narrower than the gaps alone.
    public var spacing: Int

    public init(_ direction: Direction, _ constraints: [Constraint], horizontalMargin: Int = 0, verticalMargin: Int = 0, spacing: Int = 0) {
        self.direction = direction
        self.constraints = constraints
        self.horizontalMargin = horizontalMargin
        self.verticalMargin = verticalMargin
        self.spacing = spacing
    }

    /// Parts stacked top to bottom.
    public static func vertical(_ constraints: [Constraint]) -> Layout { Layout(.vertical, constraints) }

    /// Parts side by side, left to right.
    public static func horizontal(_ constraints: [Constraint]) -> Layout { Layout(.horizontal, constraints) }

    public func margin(_ n: Int) -> Layout { margin(horizontal: n, vertical: n) }

    public func margin(horizontal: Int, vertical: Int) -> Layout {
        var copy = self
        copy.horizontalMargin = horizontal
        copy.verticalMargin = vertical
        return copy
    }

    public func spacing(_ n: Int) -> Layout {
        var copy = self
        copy.spacing = n
        return copy
    }

    /// The parts of `area`, one per constraint, in order.
    public func split(_ area: Rect) -> [Rect] {
        let h = Swift.min(Swift.max(0, horizontalMargin), area.width / 2)
        let v = Swift.min(Swift.max(0, verticalMargin), area.height / 2)
        let inner = area.inset(top: v, left: h, bottom: v, right: h)
        let horizontal = direction == .horizontal
        return segments(horizontal ? inner.width : inner.height).map { s in
            horizontal
                ? Rect(x: inner.x + s.offset, y: inner.y, width: s.size, height: inner.height)
                : Rect(x: inner.x, y: inner.y + s.offset, width: inner.width, height: s.size)
        }
    }

    /// Offset and size of each part along the direction, in a line of `total` cells (margins already taken).
    public func segments(_ total: Int) -> [(offset: Int, size: Int)] {
        let count = constraints.count
        guard count > 0 else { return [] }
        let total = Swift.max(0, total)
        let gaps = count - 1
        let gap = Swift.min(Swift.max(0, spacing), total)
        var gapSizes = Array(repeating: gap, count: gaps)
        var room = total - gap * gaps
        if room < 0 {
            // Narrower than the gaps alone: every part is empty and the gaps share the cells.
            room = 0
            gapSizes = Self.shares(total, weights: Array(repeating: 1, count: gaps))
        }
        let sizes = Self.sizes(constraints, room: room)
        var offset = 0
        return sizes.enumerated().map { i, size in
            defer { offset += size + (i < gaps ? gapSizes[i] : 0) }
            return (offset, size)
        }
    }

    /// The size of each part when the parts share exactly `room` cells.
    static func sizes(_ constraints: [Constraint], room: Int) -> [Int] {
        var size = constraints.map { $0.wanted(room: room) }
        let excess = size.reduce(0, +) - room
        if excess > 0 {
            var left = excess
            for kind in [Kind.relative, .exact, .atLeast] where left > 0 {
                let parts = constraints.indices.filter { constraints[$0].kind == kind }
                left = shrink(&size, parts, by: left)
            }
        } else if excess < 0 {
            let fills = constraints.indices.filter { constraints[$0].kind == .fill }
            let minima = constraints.indices.filter { constraints[$0].kind == .atLeast }
            if !fills.isEmpty {
                let weights = fills.map { i in
                    if case .fill(let w) = constraints[i] { return Swift.min(Swift.max(0, w), Self.maxWeight) } else { return 0 }
                }
                for (i, share) in zip(fills, shares(-excess, weights: weights)) { size[i] += share }
            } else if !minima.isEmpty {
                for (i, share) in zip(minima, shares(-excess, weights: minima.map { _ in 1 })) { size[i] += share }
            } else {
                let last = constraints.lastIndex { if case .max = $0 { return false } else { return true } } ?? constraints.count - 1
                size[last] += -excess
            }
        }
        return size
    }

    /// Weights above this count as this (so no product overflows).
    static let maxWeight = 1 << 20

    /// `total` split by weight (rounded down), the cells left over one each to the first parts.
    static func shares(_ total: Int, weights: [Int]) -> [Int] {
        guard !weights.isEmpty else { return [] }
        let sum = Swift.max(1, weights.reduce(0, +))
        var out = weights.map { total * $0 / sum }
        var left = total - out.reduce(0, +)
        var i = 0
        while left > 0 {
            out[i % out.count] += 1
            left -= 1
            i += 1
        }
        return out
    }

    /// Takes up to `excess` cells from `parts`, in proportion to their sizes (the rounding from the
    /// last part back); returns what is still to take.
    private static func shrink(_ size: inout [Int], _ parts: [Int], by excess: Int) -> Int {
        let have = parts.reduce(0) { $0 + size[$1] }
        guard have > 0 else { return excess }
        let take = Swift.min(excess, have)
        var left = take
        for i in parts {
            let cut = take * size[i] / have
            size[i] -= cut
            left -= cut
        }
        while left > 0 {
            for i in parts.reversed() where left > 0 && size[i] > 0 {
                size[i] -= 1
                left -= 1
            }
        }
        return excess - take
    }

    /// The order in which parts give way when the area is too small.
    enum Kind { case relative, exact, atLeast, fill }
}

extension Constraint {
    var kind: Layout.Kind {
        switch self {
        case .percentage, .ratio: return .relative
        case .length, .max: return .exact
        case .min: return .atLeast
        case .fill: return .fill
        }
    }

    /// What the part asks for, never more than the room (so no sum overflows).
    func wanted(room: Int) -> Int {
        switch self {
        case .length(let n), .min(let n), .max(let n): return Swift.min(room, Swift.max(0, n))
        case .percentage(let p): return Self.fraction(room, Swift.max(0, p), 100)
        case .ratio(let a, let b): return b <= 0 ? 0 : Self.fraction(room, Swift.max(0, a), b)
        case .fill: return 0
        }
    }

    /// room × a / b rounded down, at most room, exact for any `a` and `b` > 0.
    private static func fraction(_ room: Int, _ a: Int, _ b: Int) -> Int {
        guard a < b else { return room }
        return b.dividingFullWidth(room.multipliedFullWidth(by: a)).quotient
    }
}
