import AgentOSCrypto
import Testing

@Suite struct DigestTests {
    @Test func sha256KnownVectors() {
        #expect(Hex.encode(Digest.sha256("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Hex.encode(Digest.sha256("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(Hex.encode(Digest.sha256(million)) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func sha1KnownVector() {
        // Redis names scripts by SHA-1: `return 1` is e0e1f9fabfc9d4800c877a703b823ac0578ff8db.
        #expect(Hex.encode(Digest.sha1(Array("return 1".utf8))) == "e0e1f9fabfc9d4800c877a703b823ac0578ff8db")
    }

    @Test func hmacRFC4231() {
        // RFC 4231 test case 1 and 2.
        let key1 = [UInt8](repeating: 0x0b, count: 20)
        #expect(
            Hex.encode(Digest.hmacSHA256(key: key1, message: "Hi There"))
                == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        #expect(
            Hex.encode(Digest.hmacSHA256(key: Array("Jefe".utf8), message: "what do ya want for nothing?"))
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        // A key longer than the block size is hashed first (test case 6).
        let longKey = [UInt8](repeating: 0xaa, count: 131)
        #expect(
            Hex.encode(Digest.hmacSHA256(key: longKey, message: "Test Using Larger Than Block-Size Key - Hash Key First"))
                == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    @Test func hmacAtTheBlockBoundariesMatchesPythonsHMAC() {
        // The RFC 2104 construction here pads or hashes the key itself: a key of exactly one block,
        // an empty key and message, and a 65-byte key with a message of several blocks, each
        // against Python's `hmac.new(key, msg, hashlib.sha256)`.
        #expect(
            Hex.encode(Digest.hmacSHA256(key: [UInt8](repeating: 0x0c, count: 64), message: "exactly one block of key"))
                == "797265933a847060e13366bb18ff33c2ff0d46883286d148c9dff2c553d55cca")
        #expect(Hex.encode(Digest.hmacSHA256(key: [UInt8](), message: "")) == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad")
        let message = Array(repeatElement((0...255).map { UInt8($0) }, count: 3).joined())
        #expect(
            Hex.encode(Digest.hmacSHA256(key: (0..<65).map { UInt8($0) }, message: message))
                == "6a2010803dd44974788b0458e901174e4cfa8f27d5ca97d116663ff306cd1d54")
    }

    @Test func hexRoundTripAndRejection() {
        let bytes: [UInt8] = [0, 1, 0x7f, 0x80, 0xff]
        #expect(Hex.encode(bytes) == "00017f80ff")
        #expect(Hex.decode("00017F80ff") == bytes)
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
    }

    @Test func randomBytesDiffer() {
        let a = SecureRandom.bytes(32)
        let b = SecureRandom.bytes(32)
        #expect(a.count == 32 && a != b)
        #expect(SecureRandom.hexToken(16).count == 32)
    }
}
