/// The release version: `agentos --version`, the user agents, and the Debian package
/// (scripts/package.sh reads it from the built binary) all take it from here.
public enum AgentOSVersion {
    public static let string = "0.1.0"
}
