/// The only list of screens. Tabs, the `:` palette, keys 1–9, the help, the menus and the
/// wallboard read it. A screen whose `tab` is an earlier screen's becomes that tab's next pane.
public enum ScreenRegistry {
    // The trailing comma keeps adding a screen a one-line change (the formatter would remove it).
    // swift-format-ignore
    public static let all: [any Screen] = [
        DashboardScreen(),
        JobsScreen(),
        QueuesScreen(),
        JobSetScreen(.scheduled),
        JobSetScreen(.retry),
        JobSetScreen(.dead),
        SystemScreen(),
        SessionsScreen(),
        WorkersScreen(),
        ManagersScreen(),
        LogsScreen(),
        ConfigScreen(),
        AnalyticsScreen(),
        ChangesScreen(),
        TaskTypesScreen(),
    ]

    private static let byID: [ViewID: any Screen] = Dictionary(all.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })

    /// The tabs, in order: the screens shown in a tab of their own.
    public static let tabs: [ViewID] = all.filter { $0.tab == $0.id }.map(\.id)

    /// The screen of an identity (an unknown one: the first screen, so a frame is always drawn).
    public static func screen(_ id: ViewID) -> any Screen { byID[id] ?? all[0] }

    /// The screens a tab shows, its own first (one, or several panes switched with `[` and `]`).
    public static func panes(of tab: ViewID) -> [any Screen] { all.filter { $0.tab == tab } }
}
