import AgentOSCore
import Foundation

extension LiveActionExecutor {
    static let systemHandlers: [String: Handler] = [:]
    static let databaseHandlers: [String: Handler] = [:]
}
