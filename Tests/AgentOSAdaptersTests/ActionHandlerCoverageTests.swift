import AgentOSAdapters
import AgentOSCore
import Testing

@Suite("Live executor coverage")
struct ActionHandlerCoverageTests {
    @Test func everyCatalogActionHasALiveHandler() {
        #expect(ActionCatalog.all.count == 83)
        #expect(LiveActionExecutor.missingHandlers == [])
    }
}
