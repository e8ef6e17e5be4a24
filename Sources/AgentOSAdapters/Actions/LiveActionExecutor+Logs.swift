import AgentOSCore
import Foundation

extension LiveActionExecutor {
    static let logHandlers: [String: Handler] = [:]
    static let configHandlers: [String: Handler] = [:]
    static let analyticsHandlers: [String: Handler] = [:]
}
