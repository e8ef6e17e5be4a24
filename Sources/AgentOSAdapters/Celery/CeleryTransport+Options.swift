import AgentOSCore
import Foundation

extension CeleryTransport {
    /// The transport from the deployment's settings as JSON, in Celery's own words:
    /// `broker_transport_options` keys (`global_keyprefix`, `fanout_prefix`, `fanout_patterns`,
    /// `priority_steps`, `sep`) plus `broker_db` (the `/N` of the broker URL), `queues` (the
    /// app's `task_queues` names), `reply_timeout` (seconds) and `confirm_timeout` (seconds an action
    /// waits for the workers' state to show its effect, D67), `result_db` and `result_keyprefix` (a
    /// Redis result backend on the broker's server, to reconcile the task figures with, D77). `{}`
    /// is Celery's defaults.
    public init(options text: String, place: String = "celery options") throws(CeleryConfigError) {
        func fail(_ s: String) -> CeleryConfigError { CeleryConfigError("\(place): \(s)") }
        let root: JSONTree
        do { root = try JSONTree.parse(Array(text.utf8)) } catch { throw fail("not JSON: \(CeleryEnvelope.reason(error))") }
        guard let o = root.object else { throw fail("must be a JSON object like {\"global_keyprefix\": \"pfx:\"}") }
        let known: Set = [
            "global_keyprefix", "fanout_prefix", "fanout_patterns", "priority_steps", "sep", "broker_db", "queues", "reply_timeout",
            "confirm_timeout",
            "result_db", "result_keyprefix"
        ]
        if let unknown = o.keys.sorted().first(where: { !known.contains($0) }) {
            throw fail("unknown key '\(unknown.prefix(40))' (known: \(known.sorted().joined(separator: ", ")))")
        }
        var db = 0
        var prefix = ""
        var fanout = FanoutPrefix.database
        var patterns = true
        var steps = [0, 3, 6, 9]
        var sep: [UInt8] = [0x06, 0x16]
        var queues = ["celery"]
        var timeout = 1.0
        var confirm = 10.0
        var resultDB: Int?
        var resultPrefix = ""
        if let v = o["result_db"] {
            guard case .int(let i) = v else { throw fail("result_db must be an integer (the /N of a redis:// result_backend)") }
            resultDB = i
        }
        if let v = o["result_keyprefix"] {
            guard let s = v.string else { throw fail("result_keyprefix must be a string") }
            guard resultDB != nil else { throw fail("result_keyprefix needs result_db") }
            resultPrefix = s
        }
        if let v = o["broker_db"] {
            guard case .int(let i) = v else { throw fail("broker_db must be an integer") }
            db = i
        }
        if let v = o["global_keyprefix"] {
            guard let s = v.string else { throw fail("global_keyprefix must be a string") }
            prefix = s
        }
        switch o["fanout_prefix"] {
        case nil, .bool(true)?: fanout = .database
        case .bool(false)?: fanout = FanoutPrefix.none
        case .string(let s)?: fanout = .custom(s)
        default: throw fail("fanout_prefix must be true, false or a string")
        }
        if let v = o["fanout_patterns"] {
            guard let b = v.bool else { throw fail("fanout_patterns must be true or false") }
            patterns = b
        }
        if let v = o["priority_steps"] {
            let ints = v.array?.compactMap { item -> Int? in if case .int(let i) = item { return i } else { return nil } }
            guard let ints, ints.count == v.array?.count else { throw fail("priority_steps must be a list of integers") }
            steps = ints
        }
        if let v = o["sep"] {
            guard let s = v.string, !s.isEmpty else { throw fail("sep must be a non-empty string") }
            sep = Array(s.utf8)
        }
        if let v = o["queues"] {
            guard let a = v.array, let names = Optional(a.compactMap(\.string)), names.count == a.count else {
                throw fail("queues must be a list of names")
            }
            queues = names
        }
        if let v = o["reply_timeout"] {
            guard let d = v.double else { throw fail("reply_timeout must be a number of seconds") }
            timeout = d
        }
        if let v = o["confirm_timeout"] {
            guard let d = v.double else { throw fail("confirm_timeout must be a number of seconds") }
            confirm = d
        }
        do {
            try self.init(
                brokerDatabase: db, globalKeyPrefix: prefix, fanoutPrefix: fanout, fanoutPatterns: patterns, prioritySteps: steps,
                separator: sep, queues: queues, replyTimeout: timeout, confirmTimeout: confirm,
                resultDatabase: resultDB, resultKeyPrefix: resultPrefix)
        } catch { throw fail(error.description.replacingOccurrences(of: "celery: ", with: "")) }
    }
}
