import AgentOSAdapters
import AgentOSCore
import AgentOSLiveWorld
import AgentOSWorld
import ArgumentParser
import Foundation

/// `agentos sim`: the simulated AgentOS backend against real Redis and PostgreSQL.
struct SimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sim",
        abstract: "Play the AgentOS backend against real Redis and PostgreSQL (for demos and tests).",
        discussion: """
            Applies the migrations, fast-forwards --history seconds of fleet activity into the tables, then runs in real time:
            jobs, job_events, workers, queues, managers, logs, alerts, config and per-minute stats in PostgreSQL; waiting jobs as
            kombu messages in Redis DB0; events on the bus; the snapshot warmer under the leader lock. It obeys fleet commands
            published on {namespace}:control. Stops on Ctrl-C or after --duration seconds.
            """
    )

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var celery: CeleryOption

    @OptionGroup var simulator: SimulatorOptions

    @Option(help: "Seconds of history to fast-forward at start.")
    var history: Double = 600

    @Option(help: "Stop after this many seconds (default: run until interrupted).")
    var duration: Double?

    @Option(help: "Snapshot warm interval in milliseconds.")
    var warmInterval = 5_000

    func run() throws {
        try celery.refuse(in: "sim", "the simulator is a fleet of its own; real Celery workers are followed by `agentos --celery`")
        let connected = try connection.resolve()
        guard let redisURL = connected.redisURL, let postgresURL = connected.postgresURL else {
            throw fail("sim needs --redis URL and --postgres URL (or AGENTOS_REDIS_URL / AGENTOS_POSTGRES_URL)", code: ExitStatus.usage)
        }
        let redis: RedisClient
        let postgres = PostgresClient(postgresURL)
        do {
            redis = try RedisClient(url: redisURL)
            _ = try redis.send("PING")
            _ = try postgres.withConnection { try Migrator().migrate($0) }
        } catch {
            throw fail("\(error)", code: ExitStatus.unavailable)
        }
        let host = ProcessInfo.processInfo.hostName
        let config = SimulatorConfig(
            seed: simulator.seed, rate: simulator.rate, source: "sim@\(host)", scheduledShare: SimulatorConfig.fleetScheduledShare)
        let simulation: LiveSimulation
        do {
            simulation = try LiveSimulation(
                config: config, redis: redis, postgres: postgres, namespace: connected.names,
                historySeconds: history, warmIntervalMillis: warmInterval)
        } catch {
            throw fail("cannot start the simulation: \(error)", code: ExitStatus.unavailable)
        }
        simulation.start()
        let stop = DispatchSemaphore(value: 0)
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let sources = [SIGINT, SIGTERM].map { sig -> DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { stop.signal() }
            source.resume()
            return source
        }
        FileHandle.standardError.write(Data("agentos sim: running (\(config.source), rate \(simulator.rate)); Ctrl-C to stop\n".utf8))
        if let duration {
            _ = stop.wait(timeout: .now() + duration)
        } else {
            stop.wait()
        }
        simulation.stop()
        sources.forEach { $0.cancel() }
        let s = simulation.currentStats
        print(
            "agentos sim: \(s.ticks) ticks\(s.failedTicks > 0 ? " (\(s.failedTicks) failed: their events written by a later tick)" : ""), \(s.eventsPublished) events published, \(s.commandsApplied) commands applied, \(s.commandsRejected) rejected, \(s.warms) warms"
                + (s.unwritten > 0 ? "; \(s.unwritten) events of a failed tick not written (no server answered before the stop)" : "")
                + (s.lastError.map { "; last error: \($0)" } ?? ""))
    }
}
