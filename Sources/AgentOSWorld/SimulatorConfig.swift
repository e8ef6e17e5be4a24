import AgentOSCore
import Foundation

/// How the simulated AgentOS fleet behaves.
public struct SimulatorConfig: Sendable, Equatable {
    /// Same seed, same run.
    public var seed: UInt64
    /// Activity multiplier: 0.1 is a quiet day, 1 a normal one, 100+ an incident storm.
    public var rate: Double
    /// New jobs per minute at rate 1.
    public var jobsPerMinute: Double
    public var workersPerStage: Int
    public var concurrencyPerWorker: Int
    /// Probability that one stage attempt fails (raised by `incident`).
    public var failureRate: Double
    /// Fraction of the fleet's failures is multiplied by this during an incident.
    public var incident: Bool
    /// Finished jobs kept in memory (older ones are cleaned up, as the cleanup manager does).
    public var retainFinishedJobs: Int
    /// How far back the per-minute stats go.
    public var statsWindowMinutes: Int
    public var users: [String]
    /// Identifies the simulator in event envelopes.
    public var source: String
    /// Share of the scheduler's jobs held until an ETA before their first run (the scheduled set,
    /// D80). 0 by default, so a seeded run keeps its course; the console and `agentos sim` run
    /// with `fleetScheduledShare`.
    public var scheduledShare: Double
    /// About one job in twenty, as the embedded and live fleets schedule them.
    public static let fleetScheduledShare = 0.05

    public init(
        seed: UInt64 = 42, rate: Double = 1, jobsPerMinute: Double = 40, workersPerStage: Int = 3, concurrencyPerWorker: Int = 2,
        failureRate: Double = 0.03, incident: Bool = false, retainFinishedJobs: Int = 2_000, statsWindowMinutes: Int = 60,
        users: [String] = ["alice", "bob", "carol", "dave", "erin", "scheduler"], source: String = "sim",
        scheduledShare: Double = 0
    ) {
        self.seed = seed
        self.rate = rate
        self.jobsPerMinute = jobsPerMinute
        self.workersPerStage = workersPerStage
        self.concurrencyPerWorker = concurrencyPerWorker
        self.failureRate = failureRate
        self.incident = incident
        self.retainFinishedJobs = retainFinishedJobs
        self.statsWindowMinutes = statsWindowMinutes
        self.users = users
        self.source = source
        self.scheduledShare = scheduledShare
    }

    /// Median seconds one stage takes (at rate 1; faster rates shorten them).
    static let stageMedianSeconds: [String: Double] = [
        "video_downloader": 6, "audio_transcriber": 14, "moment_detector": 9,
        "face_detector": 12, "intelligent_cropper": 7, "video_cutter": 5
    ]

    /// Errors per stage; `permanent` ones fail the job at once (retrying cannot help).
    static let errorCatalog: [(stage: String, errorClass: String, message: String, frame: String, permanent: Bool)] = [
        ("video_downloader", "DownloadError", "HTTP 403 Forbidden while fetching source video", "fetch_source", true),
        ("video_downloader", "TimeoutError", "read timed out after 30.0s", "stream_chunks", false),
        ("audio_transcriber", "WhisperOOMError", "CUDA out of memory: tried to allocate 1.50 GiB", "transcribe_segment", false),
        ("audio_transcriber", "AudioDecodeError", "ffmpeg exited with status 1: invalid data found when processing input", "extract_audio", true),
        ("moment_detector", "ValueError", "scene scores are empty for a 0-second clip", "score_scenes", true),
        ("face_detector", "ModelLoadError", "weights file retinaface_r50.onnx is truncated", "load_model", false),
        ("face_detector", "RuntimeError", "ONNXRuntimeError: [ShapeInferenceError] mismatched dims", "detect_faces", false),
        ("intelligent_cropper", "CropBoundsError", "crop window 1080x1920 exceeds frame 720x1280", "plan_crops", true),
        ("video_cutter", "FFmpegError", "ffmpeg: Conversion failed! (codec h264_nvenc not available)", "render_clip", false),
        ("video_cutter", "OSError", "[Errno 28] No space left on device: '/io/output'", "write_output", false)
    ]

    static let titles = [
        "Keynote 2026 full stream", "Cooking show ep. 41", "Podcast #212 with guests", "Product demo – spring release",
        "City council meeting", "Esports finals day 2", "Lecture: distributed systems", "Travel vlog Lisbon",
        "Quarterly all-hands", "Interview: founders", "Street food tour", "Match highlights raw"
    ]
}
