import AgentOSCore
import ArgumentParser
import ConsoleApp
import ConsoleConfig
import Foundation

/// What the shell completes for the arguments that name something: actions from the compiled-in
/// catalog, views from the screen registry, themes and key maps from the directories the console
/// looks in (asked when the user presses Tab, so a theme added later is offered too).
enum Completions {
    static let actions = CompletionKind.list(ActionCatalog.all.map(\.name))
    static let views = CompletionKind.list(ScreenRegistry.tabs.flatMap { ScreenRegistry.screen($0).aliases.prefix(1) })
    static let themes = CompletionKind.custom { _, _, _ in assets("themes") }
    static let keymaps = CompletionKind.custom { _, _, _ in assets("keymaps") }

    static func assets(_ kind: String) -> [String] {
        AssetLocator.standard(kind: kind, environment: ProcessInfo.processInfo.environment, executable: ConsoleCommand.executable).names()
    }
}
