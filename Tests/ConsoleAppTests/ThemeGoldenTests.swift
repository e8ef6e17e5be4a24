import AgentOSCore
import ConsoleApp
import ConsoleConfig
import ConsoleUI
import Foundation
import Testing

/// The Dashboard under every shipped theme at 256, 16 and 8 colours and in monochrome: the text
/// once, then the inks each run of cells really gets (colour indices and attributes).
@Suite struct ThemeGoldenTests {
    static let themes = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("themes")
    static let shipped = ["default", "light", "high-contrast", "monochrome"]

    @Test(arguments: shipped)
    func dashboardUnder(theme name: String) throws {
        let theme = try AssetLocator(kind: "themes", directories: [Self.themes]).loadTheme(name)
        let buffer = App.render(Fixture.state(width: 80, height: 24, view: .dashboard))
        for depth in [ColorDepth.full256, .sixteen, .eight, .monochrome] {
            let palette = Palette(theme: theme, depth: depth)
            try Fixture.assertGolden(buffer, "theme-\(name)-\(depth.rawValue)", runs: buffer.inkRuns(palette))
        }
    }

    /// NO_COLOR and --monochrome force attributes only, whatever the theme: no colour index anywhere.
    @Test func monochromeDepthHasNoColours() throws {
        let buffer = App.render(Fixture.state(width: 80, height: 24, view: .jobs))
        for name in Self.shipped {
            let theme = try AssetLocator(kind: "themes", directories: [Self.themes]).loadTheme(name)
            let runs = buffer.inkRuns(Palette(theme: theme, depth: .monochrome))
            #expect(!runs.isEmpty)
            #expect(!runs.split(separator: "\n").contains { !$0.contains("fg=-1 bg=-1") }, "\(name): \(runs.prefix(200))")
            // The selection bar still stands out.
            #expect(runs.contains("reverse"))
        }
    }
}
