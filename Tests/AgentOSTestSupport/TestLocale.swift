#if canImport(Glibc)
    import Glibc
#endif

/// The test process's LC_CTYPE, set to C.UTF-8 once and never restored: tests run in parallel, and
/// one that saved and restored the locale around itself would pull it from under another (curses
/// then writes Latin-1, wcwidth answers -1).
public enum TestLocale {
    /// True when C.UTF-8 is in force; the first use sets it.
    public static let utf8: Bool = setlocale(LC_CTYPE, "C.UTF-8") != nil
}
