import Foundation

/// A one-line chart of the last values, scaled to the largest (or `maximum`).
public struct Sparkline: Widget {
    public var values: [Double]
    public var maximum: Double?
    public var style: Style

    public init(_ values: [Double], maximum: Double? = nil, style: Style = Style(.chart1)) {
        self.values = values
        self.maximum = maximum
        self.style = style
    }

    public func render(into buffer: inout CellBuffer, rect: Rect) {
        guard rect.width > 0, rect.height > 0 else { return }
        let shown = values.suffix(rect.width)
        let top = max(maximum ?? (shown.max() ?? 0), 1e-9)
        let levels = buffer.glyphs.blocks
        let start = rect.maxX - shown.count
        for (i, v) in shown.enumerated() {
            let level = v <= 0 ? -1 : min(levels.count - 1, Int((v / top) * Double(levels.count - 1) + 0.5))
            buffer.put(level < 0 ? " " : String(levels[level]), x: start + i, y: rect.maxY - 1, style)
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
