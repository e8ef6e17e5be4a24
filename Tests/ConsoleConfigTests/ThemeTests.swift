import AgentOSTestSupport
import ConsoleConfig
import ConsoleUI
import Foundation
import Testing

@Suite struct ThemeTests {
    @Test func everyShippedThemeLoadsAndDefinesEveryToken() throws {
        let files = try Repo.files(Repo.themes)
        #expect(Set(files.map { $0.deletingPathExtension().lastPathComponent }).isSuperset(of: ["default", "light", "high-contrast", "monochrome"]))
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            let theme = try ThemeFile.parse(text, file: file.path)
            #expect(theme.name == file.deletingPathExtension().lastPathComponent, "\(file.lastPathComponent) names itself")
            // Every token is written out (none silently inherited from the default).
            let r = text.components(separatedBy: "\n")
            for token in ThemeToken.allCases {
                #expect(
                    r.contains { $0.trimmingCharacters(in: .whitespaces).hasPrefix(token.rawValue + ":") }, "\(file.lastPathComponent) sets \(token)")
            }
            // Every depth resolves every token to real colour indices.
            for depth in ColorDepth.allCases {
                let palette = Palette(theme: theme, depth: depth)
                for token in ThemeToken.allCases {
                    let ink = palette.ink(for: Style(token, bg: token))
                    let limit = [.full256: 256, .sixteen: 16, .eight: 8, .monochrome: 0][palette.depth]!
                    #expect(ink.fg < max(limit, 0) || ink.fg == -1, "\(theme.name) \(depth) \(token) fg \(ink.fg)")
                    #expect(ink.bg < max(limit, 0) || ink.bg == -1, "\(theme.name) \(depth) \(token) bg \(ink.bg)")
                }
            }
        }
    }

    @Test func theDefaultFileIsTheBuiltInFallback() throws {
        let theme = try Repo.themeLocator.loadTheme("default")
        #expect(theme == Theme.builtinDefault)
    }

    @Test func lightHasItsOwnCanvasAndMonochromeIsAttributesOnly() throws {
        let light = try Repo.themeLocator.loadTheme("light")
        // A white canvas: unstyled cells get a white background at every colour depth.
        #expect(Palette(theme: light, depth: .full256).ink(for: .plain).bg == 231)
        #expect(Palette(theme: light, depth: .sixteen).ink(for: .plain).bg == 15)
        #expect(Palette(theme: light, depth: .eight).ink(for: .plain).bg == 7)
        let mono = try Repo.themeLocator.loadTheme("monochrome")
        let palette = Palette(theme: mono, depth: .full256)
        #expect(palette.depth == .monochrome)
        #expect(palette.ink(for: Style(.danger)) == Ink(attrs: .bold))
        #expect(palette.ink(for: Style(.text, bg: .selection)) == Ink(attrs: .reverse))
    }

    @Test func coloursParseAndFallBackToSixteenAndEight() {
        #expect(ThemeColor(parsing: "bright-blue") == .index(12))
        #expect(ThemeColor(parsing: "#ff0000") == .rgb(255, 0, 0))
        #expect(ThemeColor(parsing: "202") == .index(202))
        #expect(ThemeColor(parsing: "default") == .terminalDefault)
        #expect(ThemeColor(parsing: "256") == nil && ThemeColor(parsing: "#12345") == nil && ThemeColor(parsing: "purplish") == nil)
        // #rrggbb → the nearest of the 256 (the cube's pure red is 196), of the 16 (bright red) and of the 8 (red).
        #expect(ThemeColor.rgb(255, 0, 0).index256 == 196)
        let theme = Theme(name: "t", tokens: [.danger: TokenStyle(fg: .rgb(255, 0, 0))])
        #expect(Palette(theme: theme, depth: .full256).ink(for: Style(.danger)).fg == 196)
        #expect(Palette(theme: theme, depth: .sixteen).ink(for: Style(.danger)).fg == 9)
        #expect(Palette(theme: theme, depth: .eight).ink(for: Style(.danger)).fg == 1)
        // A grey becomes bright black at 16 and a dimmed white at 8.
        let grey = Theme(name: "g", tokens: [.muted: TokenStyle(fg: .index(244))])
        #expect(Palette(theme: grey, depth: .sixteen).ink(for: Style(.muted)).fg == 8)
        #expect(Palette(theme: grey, depth: .eight).ink(for: Style(.muted)) == Ink(fg: 7, attrs: .dim))
    }

    @Test func aBadThemeNamesFileLineAndKeyAndFallsBack() throws {
        let dir = Repo.temporaryDirectory()
        let file = dir.appendingPathComponent("broken.yaml")
        try "name: broken\ntokens:\n  text: { fg: default }\n  muted: { fg: purplish }\n".write(to: file, atomically: true, encoding: .utf8)
        let locator = AssetLocator(kind: "themes", directories: [dir])
        let (theme, error) = locator.theme("broken")
        #expect(theme == .builtinDefault)
        let e = try #require(error)
        #expect(e.file == file.path && e.line == 4 && e.key == "tokens.muted.fg")
        #expect(e.description == "\(file.path):4: tokens.muted.fg: not a colour: 'purplish' (a name like bright-blue, #rrggbb, 0-255 or default)")

        try "tokens:\n  muted: { fg: 1 }\n  glow: { fg: 2 }\n".write(to: file, atomically: true, encoding: .utf8)
        let unknown = try #require(locator.theme("broken").error)
        #expect(unknown.line == 3 && unknown.key == "tokens.glow" && unknown.message.hasPrefix("unknown key"))

        try "tokens:\n  muted: { fg: 1, fg8: bright-red }\n".write(to: file, atomically: true, encoding: .utf8)
        let eight = try #require(locator.theme("broken").error)
        #expect(eight.line == 2 && eight.key == "tokens.muted.fg8" && eight.message.contains("first 8 colours"))

        try "tokens:\n  muted: { fg: 1\n".write(to: file, atomically: true, encoding: .utf8)
        let syntax = try #require(locator.theme("broken").error)
        #expect(syntax.line != nil && syntax.message.hasPrefix("not valid YAML"))

        let missing = try #require(locator.theme("nowhere").error)
        #expect(missing.message.contains("no theme named 'nowhere'") && missing.message.contains(dir.path))
    }

    /// Thousands of mutated shipped themes: each parses or fails with an error naming the file
    /// and a line or key; the locator then hands out the default. Never a crash.
    @Test func fuzzedThemesFailClearlyAndFallBack() throws {
        let dir = Repo.temporaryDirectory()
        try expectFuzzedAssetsFailClearly(Repo.themes, seed: 6, in: dir) { locator in
            let (theme, error) = locator.theme("fuzz")
            return (theme == .builtinDefault, error)
        }
    }
}
