import ArgumentParser
import Foundation
import WaitingRoomTokens
import WaitingRoomVerifier

/// `waitroom bench verify`: admission-token verifications per second in an order service, for tokens seen
/// for the first time (an Ed25519 signature check) and for tokens already verified (the cache).
struct BenchVerify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "verify", abstract: "Measure the verifier library: first-seen vs cached tokens.")

    @Option(help: "Distinct tokens for the first-seen measurement.")
    var tokens = 20_000

    @Option(help: "Verifications of cached tokens.")
    var cached = 500_000

    func run() async throws {
        let keys = try SigningKeySet(keys: [Ed25519PrivateKey()])
        let now = Int64(Date().timeIntervalSince1970)
        let signed = (0..<tokens).map { index in
            keys.sign(AdmissionClaims(iss: "waitroom", aud: "drop", sub: "t\(index)", jti: "j\(index)", iat: now, nbf: now, exp: now + 600, seq: Int64(index)))
        }
        let verifier = AdmissionVerifier(jwks: keys.jwks, issuer: "waitroom")

        var started = ContinuousClock.now
        for token in signed { _ = try await verifier.verify(token, room: "drop") }
        let firstSeen = Double(tokens) / (ContinuousClock.now - started).seconds

        started = ContinuousClock.now
        for index in 0..<cached { _ = try await verifier.verify(signed[index % 1_000], room: "drop") }
        let cachedRate = Double(cached) / (ContinuousClock.now - started).seconds

        print("verifier, one task, \(tokens) distinct tokens then \(cached) repeats of 1,000 of them")
        print(String(format: "  first-seen (Ed25519 verify):  %10.0f /s  (%.1f µs each)", firstSeen, 1e6 / firstSeen))
        print(String(format: "  cached (SHA-256 + lookup):    %10.0f /s  (%.2f µs each)", cachedRate, 1e6 / cachedRate))
        print(String(format: "  ratio cached/first-seen:      %10.1f x", cachedRate / firstSeen))
    }
}
