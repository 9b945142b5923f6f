import Foundation
import TestSupport
import Testing
import WaitingRoomTokens

private let now = Date(timeIntervalSince1970: 1_800_000_000)

private func claims(iat: Int64 = 1_800_000_000, ttl: Int64 = 600, room: String = "drop") -> AdmissionClaims {
    AdmissionClaims(iss: "waitroom", aud: room, sub: "ticket-1", jti: "jti-1", iat: iat, nbf: iat, exp: iat + ttl, seq: 42)
}

@Suite("Admission tokens (EdDSA JWT)")
struct JSONWebTokenTests {
    let keys = try! SigningKeySet(keys: [Ed25519PrivateKey()])

    @Test("sign then verify returns the same claims")
    func roundTrip() throws {
        let token = keys.sign(claims())
        let parts = try JSONWebToken.parse(token)
        #expect(parts.header == JWTHeader(alg: "EdDSA", kid: keys.activeKeyID))
        #expect(try keys.verify(token, as: AdmissionClaims.self, now: now, leeway: 5) == claims())
    }

    @Test("changing any single byte of the token is refused")
    func everyByteFlip() throws {
        let token = Array(keys.sign(claims()).utf8)
        for index in token.indices {
            var tampered = token
            tampered[index] = tampered[index] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
            let text = String(decoding: tampered, as: UTF8.self)
            #expect(throws: TokenError.self, "byte \(index)") {
                try keys.verify(text, as: AdmissionClaims.self, now: now, leeway: 5)
            }
        }
    }

    @Test("time window with leeway", arguments: [
        // (seconds after iat, valid?) for a 600 s token and 5 s leeway
        (-6.0, false), (-4.0, true), (0.0, true), (599.0, true), (604.0, true), (605.0, false), (10_000.0, false),
    ])
    func timeWindow(offset: Double, valid: Bool) {
        let token = keys.sign(claims())
        let result = Result { () throws(TokenError) in
            try keys.verify(token, as: AdmissionClaims.self, now: now.addingTimeInterval(offset), leeway: 5)
        }
        switch result {
        case .success: #expect(valid)
        case .failure(let error):
            #expect(!valid)
            #expect(error == (offset < 0 ? .notYetValid : .expired))
        }
    }

    @Test("alg none, HS256 and friends are refused", arguments: ["none", "HS256", "RS256", "ES256", "eddsa"])
    func otherAlgorithms(alg: String) throws {
        let signed = keys.sign(claims()).split(separator: ".")
        let header = Base64URL.encode(Array(#"{"alg":"\#(alg)","kid":"\#(keys.activeKeyID)"}"#.utf8))
        for token in ["\(header).\(signed[1]).", "\(header).\(signed[1]).\(signed[2])"] {
            #expect(throws: TokenError.unsupportedAlgorithm(alg)) {
                try keys.verify(token, as: AdmissionClaims.self, now: now, leeway: 5)
            }
        }
    }

    @Test("malformed tokens get specific errors", arguments: [
        ("a.b", "malformed"), ("a.b.c.d", "malformed"), ("!!.e30.AA", "malformed"), ("e30.e30.AA", "malformed"),
        ("bm90anNvbg.e30.AA", "malformed"),
        // {"alg":"none"} / {"alg":"HS256","kid":"x"}: refused for the algorithm before any key lookup.
        ("eyJhbGciOiJub25lIn0.e30.AA", "unsupportedAlgorithm"), ("eyJhbGciOiJIUzI1NiIsImtpZCI6IngifQ.e30.AA", "unsupportedAlgorithm"),
        // {"alg":"EdDSA","kid":"nobody"}: a well-formed token from a key we do not know.
        ("eyJhbGciOiJFZERTQSIsImtpZCI6Im5vYm9keSJ9.e30.AA", "unknownKey"),
    ])
    func malformed(token: String, kind: String) {
        #expect { try keys.verify(token, as: AdmissionClaims.self, now: now, leeway: 5) } throws: { error in
            switch error as? TokenError {
            case .malformed: kind == "malformed"
            case .unsupportedAlgorithm: kind == "unsupportedAlgorithm"
            case .unknownKey: kind == "unknownKey"
            default: false
            }
        }
    }

    @Test("a token from an unknown key is refused by kid")
    func unknownKey() throws {
        let other = try SigningKeySet(keys: [Ed25519PrivateKey()])
        #expect(throws: TokenError.unknownKey(other.activeKeyID)) {
            try keys.verify(other.sign(claims()), as: AdmissionClaims.self, now: now, leeway: 5)
        }
    }

    @Test("rotation: the first key signs, every key verifies")
    func rotation() throws {
        let old = Ed25519PrivateKey()
        let new = Ed25519PrivateKey()
        let before = try SigningKeySet(keys: [old])
        let during = try SigningKeySet(keys: [new, old])
        let oldToken = before.sign(claims())
        #expect(try JSONWebToken.parse(during.sign(claims())).header.kid == new.publicKey.keyID)
        #expect(throws: Never.self) { try during.verify(oldToken, as: AdmissionClaims.self, now: now, leeway: 5) }
        #expect(during.jwks.keys.map(\.kid) == [new.publicKey.keyID, old.publicKey.keyID])
        let after = try SigningKeySet(keys: [new])
        #expect(throws: TokenError.unknownKey(old.publicKey.keyID)) {
            try after.verify(oldToken, as: AdmissionClaims.self, now: now, leeway: 5)
        }
    }

    @Test("RFC 8037 A.3 thumbprint and A.4 signature")
    func rfc8037Vectors() throws {
        let seed = try #require(Base64URL.decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"))
        let key = try Ed25519PrivateKey(seed: seed)
        #expect(Base64URL.encode(key.publicKey.raw) == "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
        #expect(key.publicKey.keyID == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")
        let input = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
        #expect(Base64URL.encode(key.sign(Array(input.utf8)))
            == "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg")
    }

    @Test("JWKS export has the RFC 8037 members")
    func jwks() throws {
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(keys.jwks)) as? [String: Any]
        let first = try #require((json?["keys"] as? [[String: Any]])?.first)
        #expect(first["kty"] as? String == "OKP")
        #expect(first["crv"] as? String == "Ed25519")
        #expect(first["use"] as? String == "sig")
        #expect(first["alg"] as? String == "EdDSA")
        #expect(first["kid"] as? String == keys.activeKeyID)
        #expect((first["x"] as? String).flatMap(Base64URL.decode)?.count == 32)
        #expect(VerificationKeySet(jwks: keys.jwks).key(id: keys.activeKeyID)?.raw == keys.signer.publicKey.raw)
    }

    @Test("a PEM written by the openssl command loads, and our PEM reads back")
    func opensslPEM() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pem-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("key.pem").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl", "genpkey", "-algorithm", "ed25519", "-out", path]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let key = try Ed25519PrivateKey(pemFile: path)
        let again = try Ed25519PrivateKey(pem: key.pem())
        #expect(again.publicKey.raw == key.publicKey.raw)
        #expect(throws: TokenError.self) { try Ed25519PrivateKey(pem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n") }
    }

    @Test("PyJWT verifies our token against our JWKS, and refuses it with one byte changed")
    func pyjwtInterop() throws {
        let token = keys.sign(claims(iat: Int64(Date().timeIntervalSince1970)))
        let jwks = String(decoding: try JSONEncoder().encode(keys.jwks), as: UTF8.self)
        var tampered = Array(token.utf8)
        let middle = tampered.count / 2
        tampered[middle] = tampered[middle] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(try runPyJWT(jwks: jwks, token: token) == "ok 42")
        #expect(try runPyJWT(jwks: jwks, token: String(decoding: tampered, as: UTF8.self)).hasPrefix("refused"))
    }
}

/// Verifies with PyJWT exactly as an order-service team would: key by kid from the JWKS, EdDSA only.
func runPyJWT(jwks: String, token: String) throws -> String {
    let script = """
        import json, sys, jwt
        jwks = jwt.PyJWKSet.from_dict(json.loads(sys.argv[1]))
        token = sys.argv[2]
        try:
            kid = jwt.get_unverified_header(token)["kid"]
            key = next(k for k in jwks.keys if k.key_id == kid)
            claims = jwt.decode(token, key.key, algorithms=["EdDSA"], audience="drop", issuer="waitroom")
            print("ok", claims["seq"])
        except Exception as error:
            print("refused", type(error).__name__)
        """
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script, jwks, token]
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    process.waitUntilExit()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    return text.trimmingCharacters(in: .whitespacesAndNewlines)
}

@Suite("Queue tickets (HMAC-SHA256)")
struct TicketSignerTests {
    @Test("RFC 4231 test case 1")
    func rfc4231() throws {
        let signer = try TicketSigner(secret: [UInt8](repeating: 0x0b, count: 20))
        let ticket = signer.sign("Hi There")
        let expected: [UInt8] = [
            0xb0, 0x34, 0x4c, 0x61, 0xd8, 0xdb, 0x38, 0x53, 0x5c, 0xa8, 0xaf, 0xce, 0xaf, 0x0b, 0xf1, 0x2b,
            0x88, 0x1d, 0xc2, 0x00, 0xc9, 0x83, 0x3d, 0xa7, 0x26, 0xe9, 0x37, 0x6c, 0x2e, 0x32, 0xcf, 0xf7,
        ]
        #expect(ticket == "Hi There." + Base64URL.encode(expected))
    }

    @Test("round trip, tampering and foreign secrets")
    func openAndRefuse() throws {
        let signer = try TicketSigner(secret: Array("0123456789abcdef0123".utf8))
        let ticket = signer.sign("v1.drop.42.1700000000000.abc")
        #expect(try signer.open(ticket) == "v1.drop.42.1700000000000.abc")
        let bytes = Array(ticket.utf8)
        for index in bytes.indices {
            var tampered = bytes
            tampered[index] = tampered[index] == UInt8(ascii: "1") ? UInt8(ascii: "2") : UInt8(ascii: "1")
            #expect(throws: TokenError.self) { try signer.open(String(decoding: tampered, as: UTF8.self)) }
        }
        let other = try TicketSigner(secret: Array("another-secret-of-16+".utf8))
        #expect(throws: TokenError.badSignature) { try other.open(ticket) }
        #expect(throws: TokenError.self) { try TicketSigner(secret: [1, 2, 3]) }
    }

    @Test("base64url is strict", arguments: ["A", "AB=", "A B", "AB+/", "AR"])
    func strictBase64(text: String) {
        #expect(Base64URL.decode(text) == nil)
    }

    @Test("base64url round trips every length", arguments: 0..<40)
    func base64RoundTrip(length: Int) {
        let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        #expect(Base64URL.decode(Base64URL.encode(bytes)) == bytes)
        #expect(Base64URL.encode(bytes) == Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: ""))
    }

    @Test("a ticket payload ending in a prepending mark still opens (found by fuzzing)")
    func prependingMark() throws {
        let signer = try TicketSigner(secret: Array("fuzzing-ticket-secret-0123456789".utf8))
        let payload = "\u{0E}\u{FFFD}\u{0601}"
        #expect(try signer.open(signer.sign(payload)) == Substring(payload))
    }
}
