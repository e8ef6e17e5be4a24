/// Redis glob patterns (SCAN MATCH, KEYS, PSUBSCRIBE).
public enum RedisGlob {
    /// `text` with the glob metacharacters escaped, so a namespace or prefix matches only itself.
    public static func escaped(_ text: String) -> String {
        var out = ""
        for c in text {
            if "*?[]\\".contains(c) { out.append("\\") }
            out.append(c)
        }
        return out
    }
}
