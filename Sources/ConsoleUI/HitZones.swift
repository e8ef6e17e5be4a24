/// What a click on a drawn zone means. The widgets that draw clickable things record zones while
/// they draw, so the mouse asks the frame what is under the pointer instead of reading its text.
public enum HitTarget: Sendable, Hashable {
    /// The tab at `index` (0-based, in `Tabs.titles` order).
    case tab(Int)
    /// The table row at `index` of the listing (`Table.firstRowIndex` plus its place among the rows drawn).
    case row(Int)
    /// The menu entry at `index` (a `Modal` line given in `lineTargets`).
    case menuEntry(Int)
    /// A dialog button, by its label (`Yes`, `Esc cancel`).
    case button(String)
    /// A surface drawn over other zones that takes no click itself (a dialog's body): hides them.
    case cover
}

/// A rectangle of a frame and what a click in it means.
public struct HitZone: Sendable, Equatable {
    public var rect: Rect
    public var target: HitTarget

    public init(_ rect: Rect, _ target: HitTarget) {
        self.rect = rect
        self.target = target
    }
}

extension CellBuffer {
    /// Records that `rect` (clipped to the buffer) means `target`; later zones lie over earlier ones.
    /// Only the zone list changes: no cell does.
    public mutating func recordZone(_ rect: Rect, _ target: HitTarget) {
        let r = clip(rect)
        guard !r.isEmpty else { return }
        zones.append(HitZone(r, target))
    }

    /// What a click at (x, y) hits: the zone recorded last there; nil for none or a cover.
    public func hit(x: Int, y: Int) -> HitTarget? {
        guard let zone = zones.last(where: { x >= $0.rect.x && x < $0.rect.maxX && y >= $0.rect.y && y < $0.rect.maxY }) else {
            return nil
        }
        return zone.target == .cover ? nil : zone.target
    }
}
