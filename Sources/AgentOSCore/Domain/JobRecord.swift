import Foundation

/// What a job was asked to do and what it gave back, beyond the row the lists show (issue 20
/// item 2, D76): the arguments and keyword arguments it was submitted with, its result once it
/// completed, and the whole stored record as JSON (`y` in its drill-down). The stored row's
/// `payload` holds `args`, `kwargs` and, from completion on, `result`.
public struct JobRecord: Sendable, Equatable {
    /// The stored record as JSON (live: `to_jsonb` of the jobs row; embedded: the simulator's job).
    public var raw: JSONTree

    public init(raw: JSONTree) { self.raw = raw }

    public var args: [JSONTree] { raw["payload"]?["args"]?.array ?? [] }
    public var kwargs: [String: JSONTree] { raw["payload"]?["kwargs"]?.object ?? [:] }
    public var result: JSONTree? { raw["payload"]?["result"].flatMap { $0.isNull ? nil : $0 } }

    /// Scrubbed as the audit scrubs payloads (`PIIScrubber`): values under secret-like names become
    /// tokens, e-mail and IP addresses inside texts too; the tokens match the audit's for the same key.
    public func scrubbed(_ scrubber: PIIScrubber) -> JobRecord { JobRecord(raw: scrubber.scrub(tree: raw)) }
}

extension PIIScrubber {
    /// A JSON tree scrubbed at every depth, as `scrub(_ payload:)` scrubs one level.
    public func scrub(tree: JSONTree) -> JSONTree {
        switch tree {
        case .object(let fields):
            return .object(
                fields.reduce(into: [:]) { out, field in
                    out[field.key] =
                        Self.isSecretName(field.key) && !field.value.isNull ? .string(token(field.value.description)) : scrub(tree: field.value)
                })
        case .array(let items): return .array(items.map { scrub(tree: $0) })
        case .string(let s): return .string(scrub(text: s))
        case .null, .bool, .int, .double: return tree
        }
    }
}
