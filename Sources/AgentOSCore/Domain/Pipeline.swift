/// The AgentOS video pipeline: six Celery stages, each with its own queue.
public enum Pipeline {
    public static let stages = [
        "video_downloader", "audio_transcriber", "moment_detector",
        "face_detector", "intelligent_cropper", "video_cutter"
    ]

    /// The stage after `stage`, or nil for the last one.
    public static func stage(after stage: String) -> String? {
        guard let i = stages.firstIndex(of: stage), i + 1 < stages.count else { return nil }
        return stages[i + 1]
    }

    /// A stage's place in the pipeline, for sorting; names outside it come after every stage.
    public static func order(_ stage: String) -> Int { stages.firstIndex(of: stage) ?? stages.count }

    /// Default queue name of a stage.
    public static func queue(for stage: String) -> String { stage }

    /// Short labels for narrow columns.
    public static func shortName(_ stage: String) -> String {
        switch stage {
        case "video_downloader": return "download"
        case "audio_transcriber": return "transcribe"
        case "moment_detector": return "moments"
        case "face_detector": return "faces"
        case "intelligent_cropper": return "crop"
        case "video_cutter": return "cut"
        default: return stage
        }
    }
}
