// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "AgentOSConsole",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "agentos", targets: ["agentos"]),
        .executable(name: "agentos-metrics", targets: ["agentos-metrics"]),
        .executable(name: "agentos-bench", targets: ["agentos-bench"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/swhitty/FlyingFox", from: "0.27.0")
    ],
    targets: [
        // C libraries from Debian (module map + shim header only). ncursesw and hiredis have no
        // pkgConfig line: their .pc files only add -D flags that SwiftPM drops with a warning, and the
        // shims define what is needed (see docs/DECISIONS.md).
        .systemLibrary(name: "CNcursesw", providers: [.apt(["libncursesw5-dev"])]),
        .systemLibrary(name: "CHiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),

        // SHA-256 / HMAC / random bytes over libcrypto: a leaf the pure core may use.
        .target(name: "AgentOSCrypto", dependencies: ["CCrypto"]),
        // Redis (hiredis protocol, own socket, optional TLS), PostgreSQL (libpq), migrations.
        // Pure core: domain model, SSOT snapshot, events, ports, the data manager. No C, no sockets.
        .target(name: "AgentOSCore", dependencies: ["AgentOSCrypto"]),
        .target(name: "AgentOSAdapters", dependencies: ["AgentOSCore", "CHiredis", "CLibPQ", "CCrypto", "AgentOSCrypto"]),
        // The simulated AgentOS fleet, in memory (the embedded default). No C, no sockets.
        .target(name: "AgentOSWorld", dependencies: ["AgentOSCore"]),
        // The simulated fleet against real Redis and PostgreSQL (`agentos sim`).
        .target(name: "AgentOSLiveWorld", dependencies: ["AgentOSWorld", "AgentOSAdapters", "AgentOSCore"]),
        // Pure drawing: cell buffer, widgets, themes, key maps. No curses.
        .target(name: "ConsoleUI", dependencies: ["AgentOSCore"]),
        // The console: state, messages, pure update and view for the eight screens.
        .target(name: "ConsoleApp", dependencies: ["AgentOSCore", "ConsoleUI"]),
        // Theme, key map and configuration files (YAML), the file logger: the only target that parses YAML.
        .target(
            name: "ConsoleConfig",
            dependencies: [
                "ConsoleUI", "ConsoleApp", "AgentOSCore",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log")
            ]),
        // The runtime loop and the ncurses backend (the only target that calls curses).
        .target(name: "ConsoleTerminal", dependencies: ["CNcursesw", "ConsoleApp", "ConsoleUI", "AgentOSCore"]),
        // The composition root: `agentos` and its subcommands.
        .executableTarget(
            name: "agentos",
            dependencies: [
                "AgentOSCore", "AgentOSCrypto", "AgentOSWorld", "AgentOSLiveWorld", "AgentOSAdapters", "ConsoleApp", "ConsoleTerminal",
                "ConsoleConfig",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log")
            ]),
        // `agentos-bench`: the performance figures (scripts/bench.sh), its own executable so `agentos` carries none of it.
        .executableTarget(
            name: "agentos-bench",
            dependencies: [
                "AgentOSCore", "AgentOSWorld", "AgentOSLiveWorld", "AgentOSAdapters", "ConsoleApp", "ConsoleUI", "ConsoleTerminal",
                .product(name: "ArgumentParser", package: "swift-argument-parser")
            ]),
        // The Prometheus exporter's collector: reads the shared stores, keeps the metrics (swift-prometheus). No HTTP.
        .target(
            name: "AgentOSMetrics",
            dependencies: [
                "AgentOSCore", "AgentOSAdapters",
                .product(name: "Prometheus", package: "swift-prometheus")
            ]),
        // `agentos-metrics serve` / `--textfile`: its own executable, so the console binary carries no HTTP server.
        .executableTarget(
            name: "agentos-metrics",
            dependencies: [
                "AgentOSMetrics", "AgentOSAdapters", "AgentOSCore",
                .product(name: "FlyingFox", package: "FlyingFox"),
                .product(name: "ArgumentParser", package: "swift-argument-parser")
            ]),

        // What several test targets share: the file fuzzers' generator and mutations, the reliability figures file.
        .target(name: "AgentOSTestSupport", dependencies: ["AgentOSWorld"], path: "Tests/AgentOSTestSupport"),

        // Unit tests: no servers needed, build fast.
        .testTarget(name: "AgentOSCryptoTests", dependencies: ["AgentOSCrypto", "CNcursesw", "CHiredis", "CLibPQ", "AgentOSTestSupport"]),
        .testTarget(name: "AgentOSAdaptersTests", dependencies: ["AgentOSAdapters", "AgentOSCore"], exclude: ["Fixtures"]),
        .testTarget(name: "AgentOSCoreTests", dependencies: ["AgentOSCore", "AgentOSWorld", "AgentOSTestSupport"]),
        // The action pipeline's middleware with in-memory ports and an injected clock.
        .testTarget(name: "ActionPipelineTests", dependencies: ["AgentOSCore", "AgentOSTestSupport"]),
        .testTarget(name: "ConsoleUITests", dependencies: ["ConsoleUI", "AgentOSCore", "AgentOSTestSupport"]),
        .testTarget(
            name: "ConsoleAppTests",
            dependencies: ["ConsoleApp", "ConsoleUI", "AgentOSCore", "AgentOSWorld", "ConsoleConfig", "AgentOSTestSupport", "ConsoleTerminal"],
            exclude: ["__Snapshots__"]),
        // Theme, key map and configuration files: loading, fuzzed errors, precedence, secrets.
        .testTarget(
            name: "ConsoleConfigTests",
            dependencies: [
                "ConsoleConfig", "ConsoleApp", "ConsoleUI", "AgentOSTestSupport",
                .product(name: "Logging", package: "swift-log")
            ]),
        // The real binary driven in tmux (needs tmux; the binary comes from the same build).
        .testTarget(name: "ConsoleE2ETests", dependencies: ["AgentOSAdapters", "AgentOSCore", "AgentOSTestSupport"]),
        // Contract tests against the real redis-server and PostgreSQL started by scripts/test.sh.
        .testTarget(
            name: "AdapterIntegrationTests",
            dependencies: [
                "AgentOSAdapters", "AgentOSCrypto", "AgentOSCore", "AgentOSWorld", "AgentOSLiveWorld", "AgentOSMetrics", "AgentOSTestSupport",
                "ConsoleApp"
            ],
            exclude: ["celery_fixture"]), // the Celery app the tests run real workers of
        // The metric catalog, the exposition and the Grafana dashboards in dashboards/ (no servers).
        .testTarget(name: "MetricsTests", dependencies: ["AgentOSMetrics", "AgentOSCore"])
    ],
    swiftLanguageModes: [.v6]
)
