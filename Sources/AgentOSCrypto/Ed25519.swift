import CCrypto

/// Ed25519 keys and signatures through libcrypto (EVP_PKEY_ED25519), kept as PEM text: the
/// private key as PKCS#8 ("PRIVATE KEY"), the public key as SubjectPublicKeyInfo ("PUBLIC KEY"),
/// as `openssl genpkey -algorithm ed25519` writes them.
public enum Ed25519 {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// A new key pair: (private PEM, public PEM).
    public static func generate() throws(Failure) -> (privatePEM: String, publicPEM: String) {
        guard let ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nil) else { throw Failure(description: "libcrypto has no Ed25519") }
        defer { EVP_PKEY_CTX_free(ctx) }
        var key: OpaquePointer?
        guard EVP_PKEY_keygen_init(ctx) == 1, EVP_PKEY_keygen(ctx, &key) == 1, let key else {
            throw Failure(description: "Ed25519 key generation failed in libcrypto")
        }
        defer { EVP_PKEY_free(key) }
        let priv = try pem { PEM_write_bio_PrivateKey($0, key, nil, nil, 0, nil, nil) }
        let pub = try pem { PEM_write_bio_PUBKEY($0, key) }
        return (priv, pub)
    }

    /// The public key (PEM) of a private key (PEM).
    public static func publicKey(ofPrivate privatePEM: String) throws(Failure) -> String {
        let key = try load(privatePEM, isPrivate: true)
        defer { EVP_PKEY_free(key) }
        return try pem { PEM_write_bio_PUBKEY($0, key) }
    }

    /// The 64-byte signature of `message`.
    public static func sign(_ message: [UInt8], privatePEM: String) throws(Failure) -> [UInt8] {
        let key = try load(privatePEM, isPrivate: true)
        defer { EVP_PKEY_free(key) }
        guard let md = EVP_MD_CTX_new() else { throw Failure(description: "out of memory") }
        defer { EVP_MD_CTX_free(md) }
        var signature = [UInt8](repeating: 0, count: 64)
        var length = 64
        let ok = message.withUnsafeBufferPointer { m in
            signature.withUnsafeMutableBufferPointer { s in
                EVP_DigestSignInit(md, nil, nil, nil, key) == 1
                    && EVP_DigestSign(md, s.baseAddress, &length, m.baseAddress ?? UnsafePointer(bitPattern: 1), m.count) == 1
            }
        }
        guard ok, length == 64 else { throw Failure(description: "Ed25519 signing failed in libcrypto") }
        return signature
    }

    /// Whether `signature` is the public key's signature of `message`.
    public static func verify(_ signature: [UInt8], of message: [UInt8], publicPEM: String) throws(Failure) -> Bool {
        let key = try load(publicPEM, isPrivate: false)
        defer { EVP_PKEY_free(key) }
        guard let md = EVP_MD_CTX_new() else { throw Failure(description: "out of memory") }
        defer { EVP_MD_CTX_free(md) }
        return message.withUnsafeBufferPointer { m in
            signature.withUnsafeBufferPointer { s in
                EVP_DigestVerifyInit(md, nil, nil, nil, key) == 1
                    && EVP_DigestVerify(md, s.baseAddress, s.count, m.baseAddress ?? UnsafePointer(bitPattern: 1), m.count) == 1
            }
        }
    }

    private static func load(_ text: String, isPrivate: Bool) throws(Failure) -> OpaquePointer {
        let bytes = Array(text.utf8)
        let key: OpaquePointer? = bytes.withUnsafeBufferPointer { b in
            guard let bio = BIO_new_mem_buf(b.baseAddress, Int32(b.count)) else { return nil }
            defer { BIO_free(bio) }
            return isPrivate ? PEM_read_bio_PrivateKey(bio, nil, nil, nil) : PEM_read_bio_PUBKEY(bio, nil, nil, nil)
        }
        ERR_clear_error()
        guard let key else {
            throw Failure(description: "not a PEM \(isPrivate ? "private" : "public") key (\(isPrivate ? "PRIVATE KEY" : "PUBLIC KEY") block)")
        }
        guard EVP_PKEY_get_id(key) == EVP_PKEY_ED25519 else {
            EVP_PKEY_free(key)
            throw Failure(description: "not an Ed25519 key")
        }
        return key
    }

    private static func pem(_ write: (OpaquePointer) -> Int32) throws(Failure) -> String {
        guard let bio = BIO_new(BIO_s_mem()) else { throw Failure(description: "out of memory") }
        defer { BIO_free(bio) }
        guard write(bio) == 1 else { throw Failure(description: "PEM encoding failed in libcrypto") }
        var out = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 512)
        while true {
            let n = chunk.withUnsafeMutableBytes { BIO_read(bio, $0.baseAddress, Int32($0.count)) }
            if n <= 0 { break }
            out += chunk.prefix(Int(n))
        }
        return String(decoding: out, as: UTF8.self)
    }
}
