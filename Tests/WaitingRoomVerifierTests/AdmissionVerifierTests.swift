import Foundation
import Synchronization
import Testing
import WaitingRoomTokens
import WaitingRoomVerifier

private let issued: Int64 = 1_800_000_000

private func claims(room: String = "drop", ttl: Int64 = 600) -> AdmissionClaims {
    AdmissionClaims(iss: "waitroom", aud: room, sub: "t1", jti: "j1", iat: issued, nbf: issued, exp: issued + ttl, seq: 7)
}

/// A clock the test moves by hand.
final class TestClock: Sendable {
    private let seconds = Mutex<Double>(Double(issued) + 1)
    func now() -> Date { Date(timeIntervalSince1970: seconds.withLock { $0 }) }
    func advance(_ by: Double) { seconds.withLock { $0 += by } }
}

/// A JWKS endpoint stand-in that counts fetches.
final class KeySource: Sendable {
    private let state: Mutex<(JSONWebKeySet, Int)>
    init(_ keys: SigningKeySet) { state = Mutex((keys.jwks, 0)) }
    func publish(_ keys: SigningKeySet) { state.withLock { $0.0 = keys.jwks } }
    var fetches: Int { state.withLock { $0.1 } }
    func fetch() -> JSONWebKeySet { state.withLock { $0.1 += 1; return $0.0 } }
}

@Suite("Admission verifier")
struct AdmissionVerifierTests {
    let keys = try! SigningKeySet(keys: [Ed25519PrivateKey()])
    let clock = TestClock()

    func verifier(_ source: KeySource, interval: Duration = .seconds(3_600)) -> AdmissionVerifier {
        AdmissionVerifier(fetch: { source.fetch() }, issuer: "waitroom", minimumRefetchInterval: interval, now: { [clock] in clock.now() })
    }

    @Test("a valid token verifies and returns typed claims")
    func valid() async throws {
        let verifier = verifier(KeySource(keys))
        #expect(try await verifier.verify(keys.sign(claims()), room: "drop") == claims())
    }

    @Test("malformed tokens are refused with a specific error")
    func malformed() async throws {
        let verifier = verifier(KeySource(keys))
        let good = keys.sign(claims()).split(separator: ".").map(String.init)
        let header = { (json: String) in Base64URL.encode(Array(json.utf8)) }
        let other = try SigningKeySet(keys: [Ed25519PrivateKey()]).sign(claims())
        var tampered = Array(keys.sign(claims()).utf8)
        tampered[good[0].count + 5] = tampered[good[0].count + 5] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        let cases: [(String, String?, VerificationError)] = [
            ("missing", nil, .missing),
            ("empty", "", .missing),
            ("two segments", good[0] + "." + good[1], .invalid(.malformed("expected 3 segments, found 2"))),
            ("four segments", good.joined(separator: ".") + ".x", .invalid(.malformed("expected 3 segments, found 4"))),
            ("bad base64", "@@." + good[1] + "." + good[2], .invalid(.malformed("segment is not base64url"))),
            ("bad json", header("{nope") + "." + good[1] + "." + good[2], .invalid(.malformed("header is not a JSON object with alg"))),
            ("alg none", header(#"{"alg":"none"}"#) + "." + good[1] + ".", .invalid(.unsupportedAlgorithm("none"))),
            ("alg HS256", header(#"{"alg":"HS256","kid":"x"}"#) + "." + good[1] + "." + good[2], .invalid(.unsupportedAlgorithm("HS256"))),
            ("unknown kid", other, .invalid(.unknownKey(try JSONWebToken.parse(other).header.kid))),
            ("tampered payload", String(decoding: tampered, as: UTF8.self), .invalid(.badSignature)),
        ]
        for (name, token, expected) in cases {
            await #expect(throws: expected, "\(name)") { try await verifier.verify(token) }
        }
    }

    @Test("other room → wrongRoom (403), expired → expired (403), wrong issuer → invalid (401)")
    func statuses() async throws {
        let verifier = verifier(KeySource(keys))
        await #expect(throws: VerificationError.wrongRoom("drop")) { try await verifier.verify(keys.sign(claims()), room: "other") }
        #expect(VerificationError.wrongRoom("x").status == 403)
        var foreign = claims()
        foreign.iss = "someone-else"
        await #expect(throws: VerificationError.invalid(.wrongIssuer("someone-else"))) { try await verifier.verify(keys.sign(foreign)) }
        clock.advance(10_000)
        await #expect(throws: VerificationError.expired) { try await verifier.verify(keys.sign(claims())) }
        #expect(VerificationError.expired.status == 403)
    }

    @Test("a verified token is cached: repeated requests cost no signature check")
    func cacheSkipsSignatureChecks() async throws {
        let verifier = verifier(KeySource(keys))
        let tokens = (0..<3).map { keys.sign(claims(ttl: 60 + Int64($0))) }
        for _ in 0..<50 {
            for token in tokens { _ = try await verifier.verify(token) }
        }
        #expect(verifier.signatureChecks == 3, "150 verifications of 3 tokens checked \(verifier.signatureChecks) signatures")
    }

    @Test("a cached token is still refused once it expires")
    func cacheRespectsExpiry() async throws {
        let verifier = verifier(KeySource(keys))
        let token = keys.sign(claims(ttl: 60))
        _ = try await verifier.verify(token)
        _ = try await verifier.verify(token)
        clock.advance(120)
        await #expect(throws: VerificationError.self) { try await verifier.verify(token) }
    }

    @Test("unknown kids refetch the JWKS, at most once per interval (no fetch storm)")
    func noFetchStorm() async throws {
        let source = KeySource(keys)
        let verifier = verifier(source)
        _ = try await verifier.verify(keys.sign(claims()))
        #expect(source.fetches == 1)
        let stranger = try SigningKeySet(keys: [Ed25519PrivateKey()])
        for _ in 0..<50 {
            await #expect(throws: VerificationError.self) { try await verifier.verify(stranger.sign(claims())) }
        }
        #expect(source.fetches == 1, "50 unknown-kid tokens caused \(source.fetches) fetches")
    }

    @Test("concurrent first requests share one JWKS fetch and all succeed")
    func concurrentFirstFetch() async throws {
        let source = KeySource(keys)
        let verifier = AdmissionVerifier(
            fetch: { try await Task.sleep(for: .milliseconds(50)); return source.fetch() }, issuer: "waitroom",
            minimumRefetchInterval: .seconds(3_600), now: { [clock] in clock.now() }
        )
        let token = keys.sign(claims())
        let verified = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<50 { group.addTask { (try await verifier.verify(token)) == claims() } }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(verified == 50)
        #expect(source.fetches == 1)
    }

    @Test("rotation: a token from a newly published key verifies after one refetch")
    func rotation() async throws {
        let source = KeySource(keys)
        let verifier = verifier(source, interval: .zero)
        _ = try await verifier.verify(keys.sign(claims()))
        let rotated = try SigningKeySet(keys: [Ed25519PrivateKey(), keys.signer])
        source.publish(rotated)
        #expect(try await verifier.verify(rotated.sign(claims())) == claims())
        #expect(try await verifier.verify(keys.sign(claims())) == claims(), "the old key still verifies")
        #expect(source.fetches == 2)
    }
}
