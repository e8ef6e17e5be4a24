import AgentOSCore
import AgentOSMetrics
import Foundation
import Testing

/// dashboards/ of this repository.
let dashboardDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("dashboards")

@Suite struct DashboardTests {
    @Test func theFiveDashboardsOfTheSeedAreThere() throws {
        let titles = try Dashboards.files(in: dashboardDirectory).map { url -> String in
            let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
            #expect(json["uid"] as? String != nil, "\(url.lastPathComponent) has no uid")
            #expect(!Dashboards.expressions(json).isEmpty, "\(url.lastPathComponent) has no expression")
            return json["title"] as? String ?? ""
        }
        #expect(titles.sorted() == ["AgentOS / Actions", "AgentOS / Compliance", "AgentOS / Performance", "AgentOS / SSOT", "AgentOS / Security"])
    }

    @Test func dashboardsUseOnlyTheExportersMetrics() throws {
        let refs = try Dashboards.references(in: dashboardDirectory)
        #expect(refs.count > 40)
        let known = MetricsCatalog.sampleNames
        for ref in refs where !known.contains(ref.name) {
            Issue.record("\(ref.file): '\(ref.name)' is not a metric of agentos-metrics (in \(ref.expr))")
        }
        // Every panel-worthy family is on some dashboard.
        let used = Set(refs.map(\.name))
        for metric in MetricsCatalog.all where !metric.name.hasPrefix("agentos_exporter_errors") {
            #expect(!used.isDisjoint(with: metric.sampleNames), "\(metric.name) is on no dashboard")
        }
    }

    @Test func theNameExtractorSeesThroughPromQL() {
        #expect(
            Dashboards.metricNames(#"histogram_quantile(0.99, sum by (le, stage) (rate(agentos_x_bucket{a="b c"}[5m])))"#) == ["agentos_x_bucket"])
        #expect(Dashboards.metricNames(#"time() - agentos_y > 1e3 and on(job) up"#) == ["agentos_y", "up"])
    }
}

@Suite struct CatalogTests {
    @Test func namesFollowPrometheusConventions() {
        var seen = Set<String>()
        for m in MetricsCatalog.all {
            #expect(seen.insert(m.name).inserted, "\(m.name) twice")
            #expect(m.name.range(of: #"^agentos_[a-z0-9_]+$"#, options: .regularExpression) != nil, "\(m.name)")
            #expect((m.kind == .counter) == m.name.hasSuffix("_total"), "\(m.name): counters and only counters end in _total")
            if m.kind == .histogram { #expect(m.name.hasSuffix("_seconds"), "\(m.name): histograms here are durations in seconds") }
            #expect(!m.help.isEmpty)
        }
    }

    @Test func actionFiguresUseTheNearestRank() {
        var requests: [(millis: Double, outcome: String)] = []
        for i in 1...200 {
            let outcome: String = i % 50 == 0 ? "denied" : i % 40 == 0 ? "failure" : "success"
            requests.append((Double(i), outcome))
        }
        let f = ActionFigures.compute(requests)
        #expect(f.finished == 200)
        #expect(f.p99Ms == 198) // ceil(0.99 × 200) = 198th of 1…200
        #expect(f.denials == 4)
        #expect(f.failures == 4) // 40, 80, 120, 160 (200 is a denial)
        #expect(ActionFigures.compute([]).p99Ms == nil)
        #expect(ActionFigures.hitRate(CacheInfo(hits: 3, misses: 1)) == 0.75)
        #expect(ActionFigures.hitRate(CacheInfo()) == nil)
    }

    @Test func theInMemoryHistoryKeepsTheWindow() {
        let h = InMemoryActionHistory()
        let now: Int64 = 1_000_000_000
        h.record(
            ActionHistoryEntry(
                requestID: UUID(), action: "a", user: "u", startedMillis: now - 400_000, outcome: "success", totalMillis: 900, timings: [:]))
        h.record(
            ActionHistoryEntry(
                requestID: UUID(), action: "a", user: "u", startedMillis: now - 1_000, outcome: "rate_limited", totalMillis: 2, timings: [:]))
        h.record(
            ActionHistoryEntry(requestID: UUID(), action: "a", user: "u", startedMillis: now - 500, outcome: "success", totalMillis: 30, timings: [:])
        )
        let f = h.figures(nowMillis: now)
        #expect(f.finished == 2 && f.denials == 1 && f.p99Ms == 30)
    }
}
