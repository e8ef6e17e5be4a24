import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The checks ssh makes on its keys, for the configuration file and password files: a file that
/// someone else owns or may write could hand the console another server (and the password with it);
/// a file holding a password may not be readable by anyone but its owner.
enum FilePermissions {
    /// Refuses `path` when another user (root excepted) owns it, when group or others may write it,
    /// or, with `holdsPassword`, when group or others may read it. Exit 78 follows.
    static func check(_ path: String, holdsPassword: Bool) throws(ConfigError) {
        var st = stat()
        guard stat(path, &st) == 0 else { return } // reading it reports what is wrong
        let mode = st.st_mode & 0o777
        let shown = String(format: "%04o", mode)
        func refuse(_ why: String) -> ConfigError { ConfigError(file: path, line: nil, key: nil, why) }
        let me = geteuid()
        if st.st_uid != me && st.st_uid != 0 {
            throw refuse("owned by uid \(st.st_uid), not by you (uid \(me)) or root: use a copy of your own (chmod 600 it)")
        }
        if mode & 0o022 != 0 {
            throw refuse("permissions \(shown) let others change it (group- or world-writable): run chmod \(holdsPassword ? "600" : "644") \(path)")
        }
        if holdsPassword && mode & 0o077 != 0 {
            throw refuse("permissions \(shown) are too open for a file holding a password (others may read it): run chmod 600 \(path)")
        }
    }
}
