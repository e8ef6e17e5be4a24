import AgentOSCore
import ConsoleApp
import ConsoleConfig
import ConsoleUI
import Foundation
import Logging
import Testing

@Suite struct ConfigTests {
    static let password = "hunter2-s3cr3t-\u{00e9}'x"

    /// Written 0600, as a file holding a password must be (`mode` for the permission tests).
    func write(_ text: String, _ name: String = "config.yaml", mode: Int = 0o600) throws -> URL {
        let url = Repo.temporaryDirectory().appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: url.path)
        return url
    }

    /// As ssh treats its keys: a file holding a password readable by others, a file anyone else may
    /// write, a file someone else owns are refused, naming the file, its mode and the fix.
    @Test func filesOthersMayReadOrWriteAreRefused() throws {
        func refusal(_ file: URL) -> String? {
            do {
                _ = try ConfigFile.load(file, environment: ["PW": "x"])
                return nil
            } catch {
                return error.description
            }
        }
        let inline = "postgres:\n  url: postgresql://u@db/agentos\n  password: \"\(Self.password)\"\n"
        for (text, mode, problem) in [
            (inline, 0o644, "permissions 0644 are too open for a file holding a password"),
            (inline, 0o640, "permissions 0640 are too open"),
            ("redis: redis://:pw@cache:6379/0\n", 0o604, "permissions 0604 are too open"),
            ("postgres: \"host=db password='a b'\"\n", 0o644, "permissions 0644 are too open"),
            ("theme: light\n", 0o664, "permissions 0664 let others change it"),
            ("theme: light\n", 0o646, "permissions 0646 let others change it")
        ] {
            let file = try write(text, mode: mode)
            let message = try #require(refusal(file), "mode \(String(mode, radix: 8)) accepted for \(text)")
            let fix = problem.contains("change") ? "chmod 644 \(file.path)" : "chmod 600 \(file.path)"
            #expect(message.hasPrefix(file.path + ": ") && message.contains(problem) && message.contains(fix), "\(message)")
            #expect(!message.contains("hunter2"))
            // The exit-78 path: the loader refuses it as well.
            #expect(throws: ConfigError.self) {
                try SettingsLoader.load(configFlag: file.path, environment: [:], flags: SettingsLayer(origin: "flag"))
            }
        }
        // Without a password, readable by all is fine; a password elsewhere makes `redis://user@` a user.
        for text in ["theme: light\n", "redis:\n  url: redis://agentos@cache:6379/0\n  password_env: PW\n"] {
            #expect(refusal(try write(text, mode: 0o644)) == nil, "\(text)")
        }
        for mode in [0o600, 0o400] {
            let file = try write(inline, "own-\(mode).yaml", mode: mode)
            #expect(refusal(file) == nil)
        }
        // A password file: only its owner may read it.
        let pw = try write(Self.password, "pw", mode: 0o640)
        let referencing = try write("postgres:\n  url: postgresql://u@db/x\n  password_file: \(pw.path)\n", mode: 0o644)
        let message = try #require(refusal(referencing))
        #expect(message.contains(pw.path) && message.contains("permissions 0640") && message.contains("chmod 600 \(pw.path)"), "\(message)")
        // Someone else's file (root may hand one over; testable only as root).
        if geteuid() == 0 {
            let foreign = try write("theme: light\n", mode: 0o600)
            #expect(chown(foreign.path, 4242, 4242) == 0)
            let owned = try #require(refusal(foreign))
            #expect(owned.contains("owned by uid 4242"), "\(owned)")
        }
    }

    @Test func flagsBeatEnvironmentBeatFileBeatDefaults() throws {
        let file = try write(
            """
            theme: light
            keymap: vim
            namespace: fromfile
            refresh_interval: 7
            default_view: logs
            environment: staging
            readonly: false
            redis: redis://file:6379/0
            """)
        let env = [
            "AGENTOS_THEME": "high-contrast", "AGENTOS_NAMESPACE": "fromenv", "AGENTOS_READONLY": "true",
            "AGENTOS_REDIS_URL": "redis://env:6379/0"
        ]
        var flags = SettingsLayer(origin: "flag")
        flags.theme = "monochrome"
        let s = try SettingsLoader.load(configFlag: file.path, environment: env, flags: flags)
        #expect(s.theme == "monochrome" && s.origins["theme"] == "flag") // flag > env > file
        #expect(s.namespace == "fromenv" && s.origins["namespace"] == "env") // env > file
        #expect(s.readOnly == true) // env > file
        #expect(s.redisURL == "redis://env:6379/0")
        #expect(s.keymap == "vim" && s.origins["keymap"] == file.path) // file > default
        #expect(s.refreshInterval == 7 && s.defaultView == .logs && s.environment == "staging")
        #expect(s.warmInterval == 5 && s.wallboardInterval == 10 && s.origins["warm_interval"] == nil) // defaults
        // Without the file and the environment: the defaults.
        let bare = try SettingsLoader.load(
            configFlag: nil, environment: ["XDG_CONFIG_HOME": Repo.temporaryDirectory().path], flags: SettingsLayer(origin: "flag"))
        #expect(bare == ConsoleSettings())
        // The XDG default file is read when present.
        let home = Repo.temporaryDirectory()
        try FileManager.default.createDirectory(at: home.appendingPathComponent("agentos"), withIntermediateDirectories: true)
        try "theme: light\n".write(to: home.appendingPathComponent("agentos/config.yaml"), atomically: true, encoding: .utf8)
        #expect(
            try SettingsLoader.load(configFlag: nil, environment: ["XDG_CONFIG_HOME": home.path], flags: SettingsLayer(origin: "flag")).theme
                == "light")
    }

    @Test func productionGetsARedBadgeUnlessOneIsChosen() throws {
        var s = ConsoleSettings()
        s.environment = "production"
        #expect(s.effectiveBadge == .rgb(0xd7, 0, 0))
        let themed = Theme.builtinDefault.withBadge(s.effectiveBadge!)
        #expect(Palette(theme: themed, depth: .full256).ink(for: Style(.text, bg: .badge)).bg == 160)
        #expect(Palette(theme: .builtinDefault, depth: .full256).ink(for: Style(.text, bg: .badge)).bg == 25)
        let file = try write("environment: { name: qa, badge: \"#5f00af\" }\n")
        let qa = ConsoleSettings.merge([try ConfigFile.load(file, environment: [:])])
        #expect(qa.environment == "qa" && qa.effectiveBadge == .rgb(0x5f, 0, 0xaf))
    }

    /// The key hint bar (issue 20 item 8, D76): on by default, `hints: false` in the file, the environment over it.
    @Test func theHintBarSettingComesFromTheFileOrTheEnvironment() throws {
        #expect(ConsoleSettings().hints == true)
        let file = try write("theme: light\nhints: false\n")
        let off = try SettingsLoader.load(configFlag: file.path, environment: [:], flags: SettingsLayer(origin: "flag"))
        #expect(off.hints == false && off.origins["hints"] == file.path)
        let env = try SettingsLoader.load(configFlag: file.path, environment: ["AGENTOS_HINTS": "true"], flags: SettingsLayer(origin: "flag"))
        #expect(env.hints == true && env.origins["hints"] == "env")
        let bad = try write("theme: light\nhints: sometimes\n")
        #expect {
            _ = try ConfigFile.load(bad, environment: [:])
        } throws: { error in
            "\(error)".hasPrefix("\(bad.path):2: hints: ")
        }
    }

    @Test func badValuesNameFileLineAndKey() throws {
        // line | key | part of the message | the file (\n: a line break)
        let cases = Refusal.table(
            #"""
            2 | refresh_interval    | expected a number       | theme: light\nrefresh_interval: fast\n
            2 | wallboard.views     | unknown view 'kitchen'  | wallboard:\n  views: [dashboard, kitchen]\n
            2 | log.level           | unknown level           | log:\n  level: loud\n
            3 | redis.password_env  | is not set              | redis:\n  url: redis://x\n  password_env: AGENTOS_TEST_UNSET_VARIABLE\n
            2 | redis.password_file | cannot read             | redis:\n  password_file: /nonexistent/pw\n
            1 | colour              | unknown key             | colour: red\n
            3 | keys.bindings.quit  | already bound to down   | keys:\n  bindings:\n    quit: [j]\n
            1 | theme               | expected a single value | theme: [a, b]\n
            3 | redis.read_from     | master or replica       | redis:\n  url: redis://x\n  read_from: nearest\n
            """#)
        #expect(cases.count == 9, "every row of the table is a case")
        var file = URL(fileURLWithPath: "/")
        expectRefusals(cases) { text in
            file = try write(text)
            _ = try ConfigFile.load(file, environment: [:])
        } also: { error, c in
            #expect(error.file == file.path && error.description.hasPrefix("\(file.path):\(c.line): \(c.key): "), "\(error)")
        }
        #expect(throws: ConfigError.self) { try EnvironmentSettings.layer(["AGENTOS_REFRESH_INTERVAL": "soon"]) }
        #expect(throws: ConfigError.self) {
            try SettingsLoader.load(configFlag: "/nonexistent/config.yaml", environment: [:], flags: SettingsLayer(origin: "flag"))
        }
    }

    @Test func passwordsComeFromEnvOrFileAndReachOnlyTheConnection() throws {
        let pwFile = try write(Self.password + "\n", "pg-password")
        let file = try write(
            """
            redis:
              url: redis://agentos@cache:6379/2
              password_env: AGENTOS_TEST_REDIS_PW
            postgres:
              url: postgresql://agentos@db:5432/agentos
              password_file: \(pwFile.path)
            """)
        let s = ConsoleSettings.merge([try ConfigFile.load(file, environment: ["AGENTOS_TEST_REDIS_PW": Self.password])])
        #expect(s.redisPassword?.value == Self.password && s.postgresPassword?.value == Self.password)
        #expect(s.redisPassword?.source == "env AGENTOS_TEST_REDIS_PW" && s.postgresPassword?.source == "file \(pwFile.path)")
        // The clients get it, percent-encoded in URLs.
        let redis = try #require(s.redisConnectionURL)
        #expect(URLComponents(string: redis)?.password == Self.password && redis.hasPrefix("redis://agentos:"))
        #expect(URLComponents(string: try #require(s.postgresConnectionString))?.password == Self.password)
        var kv = ConsoleSettings()
        kv.postgresURL = "host=db dbname=agentos"
        kv.postgresPassword = Secret("it's", source: "test")
        #expect(kv.postgresConnectionString == "host=db dbname=agentos password='it\\'s'")
        // Nothing that prints settings shows it.
        #expect(!"\(s.redisPassword!)".contains("hunter2") && !String(reflecting: s.redisPassword!).contains("hunter2"))
        let json = String(decoding: try JSONSerialization.data(withJSONObject: s.redactedDictionary(), options: [.sortedKeys]), as: UTF8.self)
        #expect(!json.contains("hunter2") && json.contains("<secret from env AGENTOS_TEST_REDIS_PW>"))
        #expect(SecretRedactor.redact(redis) == "redis://agentos:***@cache:6379/2")
        #expect(SecretRedactor.redact("host=db password='it\\'s' dbname=x") == "host=db password=*** dbname=x")
        #expect(SecretRedactor.redact("unix:///r.sock?db=1&password=hunter2").contains("password=***"))
    }

    /// D66: the bus keys come from the environment (the key or a 0600 file), the configuration
    /// file's `bus:` section, never a flag, and are never shown.
    @Test func busKeysComeFromEnvOrFileAndAreNeverShown() throws {
        let key = "0123456789abcdef-bus-key"
        let keyFile = try write(key + "\n", "bus-key")
        let env = try EnvironmentSettings.layer([
            "AGENTOS_BUS_KEY_FILE": keyFile.path, "AGENTOS_BUS_KEY_ID": "k2", "AGENTOS_BUS_PREVIOUS_KEY": key + "-old",
            "AGENTOS_BUS_PREVIOUS_KEY_ID": "k1"
        ])
        let s = ConsoleSettings.merge([env])
        let keys = try s.busKeys()
        #expect(keys.current?.id == "k2" && keys.previous?.id == "k1" && keys.signed)
        let json = String(decoding: try JSONSerialization.data(withJSONObject: s.redactedDictionary(), options: [.sortedKeys]), as: UTF8.self)
        #expect(!json.contains(key) && json.contains("<secret from file ") && json.contains("<secret from env AGENTOS_BUS_PREVIOUS_KEY>"))
        // A key file others may read is refused, as a password file is.
        let open = try write(key, "bus-key-open", mode: 0o644)
        #expect(throws: ConfigError.self) { try EnvironmentSettings.layer(["AGENTOS_BUS_KEY_FILE": open.path]) }
        // The configuration file's bus: section; a key written in it makes it a file holding a secret.
        let file = try write("bus:\n  key_env: DEPLOY_BUS\n  key_id: prod-2\n")
        let fromFile = ConsoleSettings.merge([try ConfigFile.load(file, environment: ["DEPLOY_BUS": key])])
        #expect(try fromFile.busKeys().current?.id == "prod-2" && fromFile.origins["bus.key"] == file.path)
        let inline = try write("bus: { key: \(key) }\n", "inline.yaml", mode: 0o644)
        #expect(throws: ConfigError.self) { try ConfigFile.load(inline, environment: [:]) }
        // Too short, or the previous key under the current one's id: exit 78 at load.
        #expect(throws: ConfigError.self) { try ConsoleSettings.merge([try EnvironmentSettings.layer(["AGENTOS_BUS_KEY": "short"])]).busKeys() }
        #expect(throws: ConfigError.self) {
            try ConsoleSettings.merge([
                try EnvironmentSettings.layer(["AGENTOS_BUS_KEY": key, "AGENTOS_BUS_PREVIOUS_KEY": key + "x", "AGENTOS_BUS_PREVIOUS_KEY_ID": "k1"])
            ])
            .busKeys()
        }
        // None: the bus is unsigned (the embedded default needs no setup).
        #expect(try ConsoleSettings().busKeys() == .none)
    }

    /// `redis: { read_from: replica }` (D81) reaches the client as the URL's `read_from=`; a URL that
    /// says it itself wins.
    @Test func redisReadFromReachesTheURL() throws {
        let file = try write("redis:\n  url: redis-sentinel://u@h1:26379,h2:26379/m\n  read_from: replica\n")
        var s = ConsoleSettings.merge([try ConfigFile.load(file, environment: [:])])
        #expect(s.redisReadFrom == "replica" && s.origins["redis.read_from"] == file.path)
        #expect(s.redisConnectionURL == "redis-sentinel://u@h1:26379,h2:26379/m?read_from=replica")
        s.redisPassword = Secret(Self.password, source: "test")
        #expect(s.redisConnectionURL == "redis-sentinel://u:hunter2-s3cr3t-%C3%A9%27x@h1:26379,h2:26379/m?read_from=replica")
        s.redisURL = "redis-sentinel://h1:26379/m?read_from=master"
        s.redisPassword = nil
        #expect(s.redisConnectionURL == "redis-sentinel://h1:26379/m?read_from=master")
        #expect(ConsoleSettings.merge([try ConfigFile.load(try write("redis: redis://x\n"), environment: [:])]).redisReadFrom == nil)
    }

    /// Sentinel and multi-host URLs have several `host:port` after the `@`, which URLComponents does
    /// not parse: the password must still reach the client and never the printed form.
    @Test func multiHostURLsKeepTheirPasswordAndNeverShowIt() throws {
        var s = ConsoleSettings()
        s.redisURL = "redis-sentinel://u@h1:26379,h2:26379/mymaster/0"
        s.redisPassword = Secret(Self.password, source: "test")
        s.postgresURL = "postgresql://u@h1:5432,h2:5433/db?target_session_attrs=read-write"
        s.postgresPassword = Secret(Self.password, source: "test")
        // Percent-encoded as URLs want it: only unreserved ASCII stays.
        let encoded = "hunter2-s3cr3t-%C3%A9%27x"
        let redis = try #require(s.redisConnectionURL)
        #expect(redis == "redis-sentinel://u:\(encoded)@h1:26379,h2:26379/mymaster/0")
        let pg = try #require(s.postgresConnectionString)
        #expect(pg == "postgresql://u:\(encoded)@h1:5432,h2:5433/db?target_session_attrs=read-write")
        // A password already in the URL is replaced, not doubled.
        s.redisURL = "rediss-sentinel://u:old@h1:26379,h2:26379/mymaster/0?sentinel_password=sp"
        #expect(try #require(s.redisConnectionURL) == "rediss-sentinel://u:\(encoded)@h1:26379,h2:26379/mymaster/0?sentinel_password=sp")
        // Redacted: the user, hosts and options stay, no password does (sentinel_password included).
        for (url, shown) in [
            ("redis-sentinel://u:pw@h1:26379,h2:26379/mymaster/0", "redis-sentinel://u:***@h1:26379,h2:26379/mymaster/0"),
            ("redis-sentinel://:pw@h1:26379,h2:26379/mymaster", "redis-sentinel://:***@h1:26379,h2:26379/mymaster"),
            (
                "rediss-sentinel://u:pw@h1:26379,h2:26379/m?sentinel_user=s&sentinel_password=spw",
                "rediss-sentinel://u:***@h1:26379,h2:26379/m?sentinel_user=s&sentinel_password=***"
            ),
            (
                "postgresql://u:pw@h1:5432,h2:5433/db?target_session_attrs=read-write",
                "postgresql://u:***@h1:5432,h2:5433/db?target_session_attrs=read-write"
            ),
            ("postgresql://u@h1:5432,h2:5433/db?password=pw&pooler=transaction", "postgresql://u@h1:5432,h2:5433/db?password=***&pooler=transaction")
        ] {
            #expect(SecretRedactor.redact(url) == shown)
        }
        #expect(!SecretRedactor.redact(redis).contains("hunter2") && !SecretRedactor.redact(pg).contains("hunter2"))
    }

    @Test func aPasswordWrittenInTheFileNeverReachesTheLog() throws {
        let file = try write(
            "redis:\n  url: redis://:\(Self.password.replacingOccurrences(of: "'", with: ""))@cache:6379/0\n  password: \"\(Self.password)\"\n")
        let s = ConsoleSettings.merge([try ConfigFile.load(file, environment: [:])])
        let logURL = Repo.temporaryDirectory().appendingPathComponent("state/agentos/agentos.log")
        let factory = try FileLogHandler.factory(logURL, level: .trace)
        var log = Logger(label: "test", factory: factory)
        log.logLevel = .trace
        log.info("settings", metadata: ["redis": "\(SecretRedactor.redact(s.redisURL!))", "redis_password": "\(s.redisPassword!)"])
        log.debug("line one\nforged line")
        let text = try String(contentsOf: logURL, encoding: .utf8)
        #expect(text.contains(" info test: settings ") && text.contains("redis_password=<secret from \(file.path):3>"))
        #expect(!text.contains("hunter2"), "\(text)")
        // One record per line: a newline in a message cannot forge a record.
        #expect(text.split(separator: "\n").count == 2 && text.contains("line one\\nforged line"))
        let mode = try FileManager.default.attributesOfItem(atPath: logURL.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }
}

@Suite struct LookTests {
    /// The source tree's themes/ and keymaps/ are found above a binary built inside it.
    static let executable = Repo.root.appendingPathComponent(".build-test/debug/agentos")

    func look(_ s: ConsoleSettings, _ env: [String: String] = [:], monochrome: Bool = false) -> ConsoleLook {
        var env = env
        env["XDG_CONFIG_HOME"] = env["XDG_CONFIG_HOME"] ?? Repo.temporaryDirectory().path
        return ConsoleLook.resolve(s, environment: env, monochromeFlag: monochrome, executable: Self.executable)
    }

    @Test func noColorMeansMonochromeAndTheSettingsPickThemeAndKeyMap() throws {
        var s = ConsoleSettings()
        s.theme = "light"
        s.keymap = "vim"
        let plain = look(s)
        #expect(plain.problems.isEmpty && plain.theme.name == "light" && plain.keyMap.name == "vim" && !plain.monochrome)
        #expect(look(s, ["NO_COLOR": "1"]).monochrome)
        #expect(!look(s, ["NO_COLOR": ""]).monochrome) // no-color.org: set and non-empty
        #expect(look(s, monochrome: true).monochrome)
    }

    @Test func aBadThemeOrKeyMapFallsBackToTheDefaultWithTheError() throws {
        var s = ConsoleSettings()
        s.theme = "no-such-theme"
        s.keymap = "no-such-map"
        let l = look(s)
        #expect(l.theme == .builtinDefault && l.keyMap == KeyMap.standard)
        #expect(l.problems.count == 2 && l.problems[0].message.contains("no theme named 'no-such-theme'"))
    }

    @Test func theUsersKeysAreMergedOnTopAndProductionIsRed() throws {
        let file = Repo.temporaryDirectory().appendingPathComponent("config.yaml")
        try "keymap: vim\nenvironment: production\nkeys:\n  bindings:\n    reload: [F5]\n  actions:\n    job.cancel: C\n"
            .write(to: file, atomically: true, encoding: .utf8)
        let s = ConsoleSettings.merge([try ConfigFile.load(file, environment: [:])])
        let l = look(s)
        #expect(l.problems.isEmpty)
        #expect(l.keyMap.command(for: .function(5)) == .reload && l.keyMap.command(for: .ctrl("d")) == .pageDown)
        #expect(l.keyMap.actionKey(.jobCancel, catalog: "c") == "C")
        #expect(Palette(theme: l.theme, depth: .sixteen).ink(for: Style(.text, bg: .badge)).bg == 1)
    }
}
