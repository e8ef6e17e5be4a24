import AgentOSCore
import Testing

/// The one redactor the settings, the PostgreSQL and the Redis adapters share.
@Suite struct SecretRedactorTests {
    @Test(arguments: [
        // URL user information: the user stays, the password goes.
        ("postgresql://u:pw@h:5432/db", "postgresql://u:***@h:5432/db"),
        (
            "postgres://u:p%40ss@h1:5432,h2:5433/db?target_session_attrs=read-write",
            "postgres://u:***@h1:5432,h2:5433/db?target_session_attrs=read-write"
        ),
        ("redis://:pw@cache:6379/2", "redis://:***@cache:6379/2"),
        ("redis://agentos:pw@cache:6379/2", "redis://agentos:***@cache:6379/2"),
        // Redis's password-only form; a PostgreSQL user without a password is no secret.
        ("redis://pw@cache:6379", "redis://***@cache:6379"),
        ("postgresql://postgres@127.0.0.1:5432/db", "postgresql://postgres@127.0.0.1:5432/db"),
        // An unencoded @ in the password: up to the last @ before the host.
        ("postgresql://u:p@ss@h/db", "postgresql://u:***@h/db"),
        // Query items.
        ("postgresql://u@h/db?password=pw&pooler=transaction", "postgresql://u@h/db?password=***&pooler=transaction"),
        ("postgresql://u@h/db?sslmode=require&password=pw", "postgresql://u@h/db?sslmode=require&password=***"),
        ("unix:///r.sock?db=1&password=hunter2", "unix:///r.sock?db=1&password=***"),
        (
            "rediss-sentinel://u:pw@s1:26379,s2:26379/m?sentinel_user=s&sentinel_password=spw",
            "rediss-sentinel://u:***@s1:26379,s2:26379/m?sentinel_user=s&sentinel_password=***"
        ),
        // Key/value strings: bare, quoted with blanks, escaped quotes, blanks around =, any case.
        ("host=h password=pw dbname=x", "host=h password=*** dbname=x"),
        ("host=h password='a b' dbname=x", "host=h password=*** dbname=x"),
        ("host=db password='it\\'s a \\\\ b' dbname=x", "host=db password=*** dbname=x"),
        ("host=h PASSWORD = 'a b c'", "host=h PASSWORD = ***"),
        ("password='a\\' b' port=5", "password=*** port=5"),
        ("host=h password='never closed dbname=x", "host=h password=***"),
        // In free text (an error message, an environment dump).
        ("cannot connect to redis://u:pw@h:6379: refused", "cannot connect to redis://u:***@h:6379: refused"),
        ("PGPASSWORD=pw pg_dump", "PGPASSWORD=*** pg_dump"),
        // Nothing to hide: unchanged.
        ("host=h dbname=x user=u", "host=h dbname=x user=u"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("postgresql://u:@h/db", "postgresql://u:@h/db")
    ])
    func redacts(_ input: String, _ shown: String) {
        #expect(SecretRedactor.redact(input) == shown)
        #expect(SecretRedactor.containsPassword(input) == (input != shown))
        // Redacting twice changes nothing more.
        #expect(SecretRedactor.redact(shown) == shown)
    }

    /// With the password given elsewhere, Redis reads `redis://word@host` as the user `word`.
    @Test func aBareRedisUserinfoIsAUserWhenThePasswordComesFromElsewhere() {
        #expect(!SecretRedactor.containsPassword("redis://agentos@cache:6379/0", bareRedisUserinfo: false))
        #expect(SecretRedactor.containsPassword("redis://agentos@cache:6379/0"))
        #expect(SecretRedactor.containsPassword("redis://agentos:pw@cache:6379/0", bareRedisUserinfo: false))
    }
}
