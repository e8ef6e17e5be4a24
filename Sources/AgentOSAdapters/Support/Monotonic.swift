#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Monotonic time in nanoseconds, for deadlines that must not jump with the wall clock.
public enum Monotonic {
    public static func nanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// A deadline `millis` from now (nil for "no deadline" when millis is nil).
    public static func deadline(afterMillis millis: Int?) -> UInt64? {
        guard let millis else { return nil }
        return nanos() &+ UInt64(max(0, millis)) &* 1_000_000
    }

    /// Milliseconds left until `deadline` (-1 meaning "wait forever" for poll when deadline is nil).
    public static func pollTimeout(until deadline: UInt64?) -> Int32 {
        guard let deadline else { return -1 }
        let now = nanos()
        if now >= deadline { return 0 }
        return Int32(min(UInt64(Int32.max), (deadline - now + 999_999) / 1_000_000))
    }
}
