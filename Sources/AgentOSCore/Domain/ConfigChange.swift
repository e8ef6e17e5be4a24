import Foundation

/// One versioned change of a configuration entry (`config_history`), for the drill-down's history
/// and diff. Values are their JSON text as stored.
public struct ConfigChange: Sendable, Equatable {
    public var version: Int
    public var oldValue: String?
    public var newValue: String
    public var changedBy: String
    public var changedAt: Date
    public var reason: String?

    public init(version: Int, oldValue: String?, newValue: String, changedBy: String, changedAt: Date, reason: String? = nil) {
        self.version = version
        self.oldValue = oldValue
        self.newValue = newValue
        self.changedBy = changedBy
        self.changedAt = changedAt
        self.reason = reason
    }
}
