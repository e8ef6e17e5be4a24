import Foundation

/// A column chart of the last values in eighth blocks, bottom-aligned, scaled from `minimum` (0 by
/// default) to the largest (or `maximum`): `height` rows at the bottom of the rectangle (nil: all of it). A sparkline is a
/// chart of height 1; the wallboard's trends are taller.
public struct Chart: Widget {
    /// How a positive value maps onto the 8 × rows eighths of its column.
    public enum Scale: Sendable, Equatable {
        /// value / top × all the eighths, at least one: bar heights compare truly.
        case proportional
        /// From one eighth (the smallest positive value) to all of them (the top), evenly: in one
        /// row every block step is in use.
        case spread
    }

    public var values: [Double]
    public var maximum: Double?
    /// The value at the bottom of the chart: a rate that lives between 90 and 100 % is not a solid block.
    public var minimum: Double
    public var style: Style
    public var height: Int?
    public var scale: Scale
    /// A series shorter than the width gets whole columns per value, so it fills the width.
    public var stretch: Bool
    /// Cells of a column above its bar are written blank (in `style`) instead of left as they were.
    public var blankAbove: Bool
    /// More values than columns: each column shows the mean of its share, so the whole series is
    /// drawn (a 6-hour window shows 6 hours); otherwise the last values that fit.
    public var fitsAll = false

    /// The same chart with `fitsAll`.
    public func fittingAll() -> Chart {
        var c = self
        c.fitsAll = true
        return c
    }

    /// `values` in at most `columns` columns, each the mean of an equal share (the last shares take
    /// the remainder, so the newest values are never dropped).
    public static func fitted(_ values: [Double], columns: Int) -> [Double] {
        guard columns > 0, values.count > columns else { return values }
        return (0..<columns).map { c in
            let lo = c * values.count / columns
            let hi = (c + 1) * values.count / columns
            let share = values[lo..<hi].filter(\.isFinite)
            return share.isEmpty ? 0 : share.reduce(0, +) / Double(share.count)
        }
    }

    public init(
        _ values: [Double], maximum: Double? = nil, minimum: Double = 0, style: Style = Style(.chart1), height: Int? = nil,
        scale: Scale = .proportional, stretch: Bool = true, blankAbove: Bool = false
    ) {
        self.values = values
        self.maximum = maximum
        self.minimum = minimum
        self.style = style
        self.height = height
        self.scale = scale
        self.stretch = stretch
        self.blankAbove = blankAbove
    }

    /// One row: every block step in use, one column per value, a blank for zero.
    public static func sparkline(_ values: [Double], maximum: Double? = nil, style: Style = Style(.chart1)) -> Chart {
        Chart(values, maximum: maximum, style: style, height: 1, scale: .spread, stretch: false, blankAbove: true)
    }

    /// The whole rectangle, bars in proportion, a short series stretched over the width.
    public static func area(_ values: [Double], maximum: Double? = nil, minimum: Double = 0, style: Style = Style(.chart1)) -> Chart {
        Chart(values, maximum: maximum, minimum: minimum, style: style)
    }

    public func render(into buffer: inout CellBuffer, rect: Rect) {
        let rows = min(height ?? rect.height, rect.height)
        guard rect.width > 0, rows > 0 else { return }
        let shown = fitsAll ? Self.fitted(values, columns: rect.width) : Array(values.suffix(rect.width))
        guard !shown.isEmpty else { return }
        let per = stretch ? max(1, rect.width / shown.count) : 1
        let top = max(maximum ?? (shown.filter(\.isFinite).max() ?? 0), minimum + 1e-9)
        let levels = buffer.glyphs.blocks
        let eighths = rows * levels.count
        let start = rect.maxX - shown.count * per
        for (i, v) in shown.enumerated() {
            let filled = Self.filled(v - minimum, top: top - minimum, eighths: eighths, scale: scale)
            for dx in 0..<per {
                let x = start + i * per + dx
                for row in 0..<rows {
                    let here = min(levels.count, filled - row * levels.count)
                    if here > 0 {
                        buffer.put(String(levels[here - 1]), x: x, y: rect.maxY - 1 - row, style)
                    } else if blankAbove {
                        buffer.put(" ", x: x, y: rect.maxY - 1 - row, style)
                    } else {
                        break
                    }
                }
            }
        }
    }

    /// The eighths of a column `v` fills (0 for zero, negative or not finite).
    static func filled(_ v: Double, top: Double, eighths: Int, scale: Scale) -> Int {
        guard v.isFinite, v > 0 else { return 0 }
        let f = min(v, top) / top
        switch scale {
        case .proportional: return max(1, Int(f * Double(eighths) + 0.5))
        case .spread: return 1 + Int(f * Double(eighths - 1) + 0.5)
        }
    }
}

/// Horizontal bars with labels and values, one per row.
public struct BarChart: Widget {
    public struct Bar: Sendable {
        public var label: String
        public var value: Double
        public var display: String
        public var style: Style
        public init(_ label: String, _ value: Double, display: String? = nil, style: Style = Style(.chart1)) {
            self.label = label
            self.value = value
            self.display = display ?? (value == value.rounded() ? String(Int(value)) : String(format: "%.1f", value))
            self.style = style
        }
    }

    public var bars: [Bar]
    public var maximum: Double?
    public var labelWidth: Int?

    public init(_ bars: [Bar], maximum: Double? = nil, labelWidth: Int? = nil) {
        self.bars = bars
        self.maximum = maximum
        self.labelWidth = labelWidth
    }

    public func render(into buffer: inout CellBuffer, rect: Rect) {
        guard rect.width > 4 else { return }
        let lw = min(labelWidth ?? (bars.map { DisplayWidth.of($0.label) }.max() ?? 0), rect.width / 3)
        let vw = bars.map { DisplayWidth.of($0.display) }.max() ?? 0
        let top = max(maximum ?? (bars.map(\.value).max() ?? 0), 1e-9)
        let barWidth = max(1, rect.width - lw - vw - 2)
        for (i, bar) in bars.prefix(rect.height).enumerated() {
            let y = rect.y + i
            buffer.put(bar.label, in: Rect(x: rect.x, y: y, width: lw, height: 1), Style(.text))
            let n = bar.value <= 0 ? 0 : max(1, Int((bar.value / top) * Double(barWidth)))
            buffer.put(String(repeating: String(buffer.glyphs.full), count: min(n, barWidth)), x: rect.x + lw + 1, y: y, bar.style)
            buffer.put(bar.display, in: Rect(x: rect.maxX - vw, y: y, width: vw, height: 1), Style(.text, [.bold]), align: .right)
        }
    }
}

/// `[██████░░░░] 62%`, coloured by thresholds.
public struct Gauge: Widget {
    public var fraction: Double
    public var label: String?
    public var warnAt: Double
    public var dangerAt: Double

    public init(_ fraction: Double, label: String? = nil, warnAt: Double = 0.75, dangerAt: Double = 0.9) {
        self.fraction = fraction.isFinite ? max(0, min(1, fraction)) : 0
        self.label = label
        self.warnAt = warnAt
        self.dangerAt = dangerAt
    }

    public var token: ThemeToken { fraction >= dangerAt ? .danger : fraction >= warnAt ? .warning : .ok }

    public func render(into buffer: inout CellBuffer, rect: Rect) {
        guard rect.width >= 6, rect.height > 0 else { return }
        let text = label ?? "\(Int((fraction * 100).rounded()))%"
        let inner = max(1, rect.width - DisplayWidth.of(text) - 3)
        let filled = Int((fraction * Double(inner)).rounded())
        var x = rect.x
        x += buffer.put("[", x: x, y: rect.y, Style(.border))
        x += buffer.put(String(repeating: String(buffer.glyphs.full), count: filled), x: x, y: rect.y, Style(token))
        x += buffer.put(String(repeating: String(buffer.glyphs.empty), count: inner - filled), x: x, y: rect.y, Style(.muted))
        x += buffer.put("] ", x: x, y: rect.y, Style(.border))
        buffer.put(text, x: x, y: rect.y, Style(token, [.bold]))
    }
}
