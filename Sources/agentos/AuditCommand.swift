import AgentOSAdapters
import AgentOSCore
import AgentOSCrypto
import ArgumentParser
import Foundation

/// `agentos audit tail|verify|keygen|checkpoint`.
struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Read, verify and checkpoint the audit trail.",
        subcommands: [Tail.self, Verify.self, Keygen.self, Checkpoint.self])

    static let noCelery =
        "the audit trail (Celery's actions included) is PostgreSQL's or the data directory's, read the same with or without Celery"

    struct Tail: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the newest audit rows.")
        @Option(name: .shortAndLong, help: "How many rows.") var n = 20
        @Flag(help: "One JSON object per line.") var json = false
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var dataDir: DataDirOption
        @OptionGroup var celery: CeleryOption

        func run() throws {
            try celery.refuse(in: "audit tail", AuditCommand.noCelery)
            let log = try AuditCommand.log(connection, dataDir)
            let rows: [AuditRecord]
            do { rows = try log.tail(n) } catch { throw fail("audit log unavailable: \(error)", code: 7) }
            let encoder = AgentJSON.encoder()
            for r in rows {
                if json {
                    try JSONOutput.write(Array(try encoder.encode(r)))
                } else {
                    let d = r.draft
                    print(
                        TextSanitizer.clean(
                            "\(r.seq)\t\(ISOTime.format(d.timestamp))\t\(d.user)\(d.actingAs.map { " as \($0)" } ?? "")\t\(d.action)\t\(d.phase.rawValue)\t\(d.outcome ?? "-")\t\(d.target ?? "-")"
                        ))
                }
            }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute the chain (PostgreSQL: the keyed MAC, on the server); exit 0 intact, 1 broken (the row is named).",
            discussion: """
                With --checkpoint FILE --public-key PUB, also checks a signed checkpoint (`agentos audit checkpoint`): \
                the row it signed must still be there, with its MAC, and as many rows up to it.
                """)
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var dataDir: DataDirOption
        @Flag(help: "Print the finding as JSON.") var json = false
        @Option(help: "A signed checkpoint file to check the table against.") var checkpoint: String?
        @Option(name: .customLong("public-key"), help: "The checkpoint key's public key (PEM).") var publicKey: String?
        @OptionGroup var celery: CeleryOption

        func run() throws {
            try celery.refuse(in: "audit verify", AuditCommand.noCelery)
            let signed: AuditCheckpoint?
            switch (checkpoint, publicKey) {
            case (nil, nil): signed = nil
            case (let file?, let key?): signed = try AuditCommand.readCheckpoint(file, publicKeyFile: key)
            default: throw fail("audit verify: --checkpoint and --public-key go together", code: ExitStatus.usage)
            }
            let log = try AuditCommand.log(connection, dataDir)
            var v: AuditVerification
            do { v = try AuditVerifier.verify(log) } catch { throw fail("audit log unavailable: \(error)", code: 7) }
            if let signed, v.ok {
                guard let postgres = log as? PostgresAuditLog else {
                    throw fail("audit verify --checkpoint: checkpoints are of the PostgreSQL audit trail (--postgres)", code: ExitStatus.usage)
                }
                do { v.broken = try postgres.check(signed) } catch { throw fail("audit log unavailable: \(error)", code: 7) }
            }
            if json {
                var o: [String: Any] = ["ok": v.ok, "rows": v.rows]
                if let broken = v.broken {
                    o["broken_seq"] = broken.seq
                    o["problem"] = broken.problem
                }
                if let signed { o["checkpoint_seq"] = signed.seq }
                try CanICommand.printJSON(o)
            } else {
                print(v.summary + (signed.map { v.ok ? "; checkpoint of \(ISOTime.format($0.time)) at row \($0.seq) holds" : "" } ?? ""))
            }
            if !v.ok { throw ExitCode(1) }
        }
    }

    struct Keygen: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make an Ed25519 key pair for signing checkpoints: KEY (mode 0600) and KEY.pub.",
            discussion: "Keep the private key off the database's machine; the public key goes wherever checkpoints are verified.")
        @Option(help: "The private key file to write (the public key goes to FILE.pub).") var out: String
        @Flag(help: "Replace existing files.") var force = false

        func run() throws {
            let pair: (privatePEM: String, publicPEM: String)
            do { pair = try Ed25519.generate() } catch { throw fail("audit keygen: \(error)", code: 1) }
            let publicFile = out + ".pub"
            for file in [out, publicFile] where !force && FileManager.default.fileExists(atPath: file) {
                throw fail("audit keygen: \(file) exists (--force replaces it)", code: ExitStatus.usage)
            }
            try AuditCommand.write(pair.privatePEM, to: out, mode: 0o600)
            try AuditCommand.write(pair.publicPEM, to: publicFile, mode: 0o644)
            print("private key: \(out) (mode 0600)\npublic key: \(publicFile)\n\(pair.publicPEM)", terminator: "")
        }
    }

    struct Checkpoint: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sign the audit chain's head (seq, MAC, row count, time) with an Ed25519 key; to stdout or --out.",
            discussion: "Run it from cron and ship the output to write-once storage; `audit verify --checkpoint` checks it later.")
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "The private key (PEM, from `agentos audit keygen`).") var key: String
        @Option(help: "Write the checkpoint to this file instead of stdout.") var out: String?
        @OptionGroup var celery: CeleryOption

        func run() throws {
            try celery.refuse(in: "audit checkpoint", AuditCommand.noCelery)
            let privatePEM: String
            do { privatePEM = try String(contentsOfFile: key, encoding: .utf8) } catch {
                throw fail("audit checkpoint: \(key): cannot read the private key: \(error.localizedDescription)", code: ExitStatus.usage)
            }
            guard let url = try connection.resolve().postgresURL else {
                throw fail("audit checkpoint needs --postgres URL (checkpoints are of the PostgreSQL audit trail)", code: ExitStatus.usage)
            }
            let log = PostgresAuditLog(postgres: PostgresClient(url))
            let head: (seq: Int, hash: String, rows: Int)?
            do { head = try log.head() } catch { throw fail("audit log unavailable: \(error)", code: 7) }
            guard let head else { throw fail("audit checkpoint: the audit trail has no rows yet", code: 1) }
            let text: String
            do { text = try AuditCheckpoint(seq: head.seq, head: head.hash, rows: head.rows, time: Date()).signed(privatePEM: privatePEM) } catch {
                throw fail("audit checkpoint: \(key): \(error)", code: ExitStatus.usage)
            }
            if let out { try AuditCommand.write(text, to: out, mode: 0o644) } else { print(text, terminator: "") }
        }
    }

    static func readCheckpoint(_ file: String, publicKeyFile: String) throws -> AuditCheckpoint {
        let text: String
        let publicPEM: String
        do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
            throw fail("audit verify: \(file): cannot read the checkpoint: \(error.localizedDescription)", code: ExitStatus.usage)
        }
        do { publicPEM = try String(contentsOfFile: publicKeyFile, encoding: .utf8) } catch {
            throw fail("audit verify: \(publicKeyFile): cannot read the public key: \(error.localizedDescription)", code: ExitStatus.usage)
        }
        do { return try AuditCheckpoint.read(text, source: file, publicPEM: publicPEM) } catch let e as AuditCheckpoint.Invalid {
            throw fail("audit verify: \(e.description.hasPrefix("public key") ? "\(publicKeyFile): \(e)" : "\(e)")", code: ExitStatus.usage)
        }
    }

    /// Writes `text` to a new file created with `mode` (never wider for a moment).
    static func write(_ text: String, to path: String, mode: mode_t) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)
        guard fd >= 0 else { throw fail("\(path): cannot write: \(String(cString: strerror(errno)))", code: 1) }
        defer { close(fd) }
        guard fchmod(fd, mode) == 0 else { throw fail("\(path): cannot set mode: \(String(cString: strerror(errno)))", code: 1) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw fail("\(path): cannot write: \(String(cString: strerror(errno)))", code: 1) }
    }

    /// Live: `audit_logs`; embedded: the JSONL chain under the data directory.
    static func log(_ connection: ConnectionOptions, _ dataDir: DataDirOption) throws -> AuditLog {
        if let url = try connection.resolve().postgresURL { return PostgresAuditLog(postgres: PostgresClient(url)) }
        do {
            return try FileAuditLog(directory: DataDirectory.resolve(dataDir.path).appendingPathComponent("logs/audit"))
        } catch {
            throw fail("\(error)", code: 7)
        }
    }
}
