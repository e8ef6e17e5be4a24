import AgentOSCore
import Foundation

/// The bus key of the live tests (D66): scripts/test.sh exports a random `AGENTOS_BUS_KEY`, so the
/// consoles, sims and commands the tests start run signed; whatever a test writes on the bus by hand
/// is signed here with the same key, or it would be refused. Without the variable: unsigned.
public enum TestBus {
    public static var keys: BusKeys {
        let env = ProcessInfo.processInfo.environment
        guard let secret = env["AGENTOS_BUS_KEY"], !secret.isEmpty else { return .none }
        let id = env["AGENTOS_BUS_KEY_ID"].flatMap { $0.isEmpty ? nil : $0 } ?? "k1"
        return BusKeys(current: BusKey(id: id, secret: secret))
    }

    /// A snapshot document for the cache, signed over its generation.
    public static func sealSnapshot(_ json: [UInt8], generation: Int, namespace: String) -> [UInt8] {
        BusAuth.seal(json, keys: keys, kind: .snapshot, namespace: namespace, number: Int64(generation))
    }

    /// A snapshot read from the cache, changed by `edit`, and signed again (its old MAC removed).
    public static func resealSnapshot(_ cached: [UInt8], namespace: String, _ edit: (inout [String: Any]) -> Void) throws -> [UInt8] {
        var object = try JSONSerialization.jsonObject(with: Data(cached)) as? [String: Any] ?? [:]
        object.removeValue(forKey: "mac")
        edit(&object)
        let generation = object["generation"] as? Int ?? 0
        return sealSnapshot([UInt8](try JSONSerialization.data(withJSONObject: object)), generation: generation, namespace: namespace)
    }

    /// A control message (`{ns}:control`), signed now.
    public static func sealControl(_ json: String, namespace: String) -> [UInt8] {
        BusAuth.sealControl(json, keys: keys, namespace: namespace)
    }
}
