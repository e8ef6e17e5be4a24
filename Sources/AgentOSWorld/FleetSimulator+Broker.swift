import AgentOSCore

extension FleetSimulator {
    /// A stable delivery tag per job id (so a message can be found again with LREM).
    public func deterministicTag(for id: String) -> String { "tag-" + id }
}
