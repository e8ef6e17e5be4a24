import AgentOSCore
import ConsoleUI
import Foundation

// The generic list under every screen: a screen gives its rows (`Screen.rows`); here they are
// filtered, sorted and addressed by identity, built only for the rows a frame shows.

/// A sortable value of a cell.
public enum SortValue: Sendable, Comparable {
    case number(Double)
    case text(String)

    public static func < (a: SortValue, b: SortValue) -> Bool {
        switch (a, b) {
        case (.number(let x), .number(let y)): return x < y
        case (.text(let x), .text(let y)): return x.localizedStandardCompare(y) == .orderedAscending
        case (.number, .text): return true
        case (.text, .number): return false
        }
    }
}

/// One listed item: its identity (for drill-down and actions), the row, the sort keys, and the
/// text the filter searches.
public struct ListItem: Sendable {
    public var id: String
    public var row: TableRow
    public var sort: [SortValue]
    public var search: String
}

/// The shown screen's list, as pure functions of the state: its columns, its rows filtered and
/// sorted, the selection's drill-down and the table's rectangle (what each screen gives, in Screens/).
public enum Screens {
    public static func columns(_ state: AppState) -> [TableColumn] { state.screen.columns(state) }

    /// The rows of a view without building them: a count, each row's identity, and the full item
    /// on demand (only the visible rows are built for a frame).
    public struct ListSource {
        public let count: Int
        public let id: (Int) -> String
        public let item: (Int) -> ListItem

        public static var empty: ListSource {
            ListSource(count: 0, id: { _ in "" }, item: { _ in ListItem(id: "", row: TableRow([]), sort: [], search: "") })
        }

        public init(count: Int, id: @escaping (Int) -> String, item: @escaping (Int) -> ListItem) {
            self.count = count
            self.id = id
            self.item = item
        }

        public init<C: RandomAccessCollection>(_ elements: C, id: @escaping (C.Element) -> String, item: @escaping (C.Element) -> ListItem)
        where C.Index == Int {
            let base = elements.startIndex
            self.init(count: elements.count, id: { id(elements[base + $0]) }, item: { item(elements[base + $0]) })
        }
    }

    /// The shown rows: the source and the order of its indices after the filter and the sort.
    public struct Listing {
        public let source: ListSource
        public let order: [Int]
        public var count: Int { order.count }
        public func id(_ position: Int) -> String { source.id(order[position]) }
        public func item(_ position: Int) -> ListItem { source.item(order[position]) }
        public func position(of id: String) -> Int? { order.firstIndex { source.id($0) == id } }
    }

    /// Filtered and sorted; rows are built in full only when a filter or a sort needs them.
    public static func listing(_ state: AppState) -> Listing {
        let source = self.source(state)
        let filter = state.current.filter
        let sortColumn = state.current.sortColumn
        guard filter.isActive || sortColumn != nil else { return Listing(source: source, order: Array(0..<source.count)) }
        var order = Array(0..<source.count)
        var built: [ListItem] = []
        built.reserveCapacity(source.count)
        for i in order { built.append(source.item(i)) }
        if filter.isActive {
            let match = filter.matcher()
            order = order.filter { match(built[$0].search) }
        }
        if let col = sortColumn {
            let asc = state.current.sortAscending
            order = order.sorted { a, b in
                let x = col < built[a].sort.count ? built[a].sort[col] : .text("")
                let y = col < built[b].sort.count ? built[b].sort[col] : .text("")
                if x == y { return a < b }
                return asc ? x < y : y < x
            }
        }
        return Listing(source: source, order: order)
    }

    /// Every shown item, built (tests and small lists; frames use `listing`).
    public static func items(_ state: AppState) -> [ListItem] {
        let l = listing(state)
        return l.order.map(l.source.item)
    }

    public static func rowCount(_ state: AppState) -> Int { listing(state).count }

    /// The drill-down of the selected row (nil: no row, or the screen has none).
    public static func detailTarget(_ state: AppState) -> DetailTarget? {
        let list = listing(state)
        let i = state.current.cursor.selected
        guard i >= 0 && i < list.count, let snapshot = state.snapshot else { return nil }
        let screen = state.screen
        let id = list.id(i)
        return screen.detail(state, snapshot, id: id) == nil ? nil : DetailTarget(screen.id, id)
    }

    static func source(_ state: AppState) -> ListSource {
        guard let snapshot = state.snapshot else { return .empty }
        return state.screen.rows(snapshot, state)
    }

    /// The rectangle of the selectable table of the current view (same as `Render` uses).
    public static func tableRect(_ state: AppState) -> Rect {
        state.screen.tableRect(state, body: FrameLayout(state).body)
    }
}
