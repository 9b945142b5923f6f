import Foundation
import Testing
import WaitingRoomTokens

private let signer = try! TicketSigner(secret: Array("proof-of-work-test-secret".utf8))
private let now: Int64 = 1_800_000_000_000

@Suite("Proof of work")
struct ProofOfWorkTests {
    let pow = ProofOfWork(signer: signer, lifetimeMs: 60_000)

    @Test("a solved challenge verifies; its id is the single-use key", arguments: [0, 1, 8, 12])
    func solves(bits: Int) throws {
        let challenge = pow.issue(scope: "drop", bits: bits, nowMs: now)
        let nonce = ProofOfWork.solve(challenge.text, bits: bits)
        let verified = try pow.verify(challenge.text, nonce: nonce, scope: "drop", requiredBits: bits, nowMs: now + 1_000)
        #expect(verified.bits == bits)
        #expect(verified.expiresAtMs == now + 60_000)
        #expect(pow.issue(scope: "drop", bits: bits, nowMs: now).text != challenge.text)
    }

    @Test("refusals say why")
    func refusals() throws {
        let challenge = pow.issue(scope: "drop", bits: 12, nowMs: now)
        let nonce = ProofOfWork.solve(challenge.text, bits: 12)
        func failure(_ text: String = challenge.text, nonce: String = nonce, scope: String = "drop", required: Int = 12, at: Int64 = now) -> ProofOfWork.Failure? {
            do {
                _ = try pow.verify(text, nonce: nonce, scope: scope, requiredBits: required, nowMs: at)
                return nil
            } catch {
                return error
            }
        }
        #expect(failure() == nil)
        #expect(failure(scope: "other") == .wrongScope)
        #expect(failure(at: now + 60_001) == .expired)
        #expect(failure(required: 13) == .tooEasy)
        // A nonce that does not solve it (the one that solves it for 12 bits rarely solves 16: use a wrong one).
        var wrong = 0
        while ProofOfWork.leadingZeroBits(Digest.sha256(Array((challenge.text + ":x\(wrong)").utf8))) >= 12 { wrong += 1 }
        #expect(failure(nonce: "x\(wrong)") == .insufficientWork)
        // Forged: same payload, easier difficulty, MAC from another secret.
        let other = ProofOfWork(signer: try TicketSigner(secret: Array("another-secret-entirely".utf8)))
        let forged = other.issue(scope: "drop", bits: 0, nowMs: now)
        #expect(failure(forged.text, nonce: "0", required: 0) == .badSignature)
        // Tampered difficulty inside a real challenge breaks the MAC.
        let tampered = challenge.text.replacingOccurrences(of: ".12.", with: ".0.")
        #expect(failure(tampered, nonce: "0", required: 0) == .badSignature)
        for junk in ["", "x", "a.b", String(repeating: "a", count: 300)] { #expect(failure(junk) == .malformed) }
        for badNonce in ["", String(repeating: "1", count: 65), "1 2", "\u{7f}"] { #expect(failure(nonce: badNonce) == .malformed) }
    }

    @Test("leading zero bits", arguments: [([0x00, 0x00, 0x80] as [UInt8], 16), ([0x01], 7), ([0xff], 0), ([0x00, 0x0f], 12)])
    func leadingZeros(bytes: [UInt8], expected: Int) {
        #expect(ProofOfWork.leadingZeroBits(bytes) == expected)
    }

    @Test("verifying costs microseconds: 2,000 verifications well under a second")
    func verifyCost() throws {
        let challenge = pow.issue(scope: "drop", bits: 8, nowMs: now)
        let nonce = ProofOfWork.solve(challenge.text, bits: 8)
        let clock = ContinuousClock()
        let elapsed = try clock.measure {
            for _ in 0..<2_000 { _ = try pow.verify(challenge.text, nonce: nonce, scope: "drop", nowMs: now) }
        }
        #expect(elapsed < .seconds(1))
    }

    /// The browser's solver (Sources/WaitingRoomServer/Resources/pow-worker.js), run in Node, finds nonces the
    /// gate accepts — including challenges whose length puts the nonce across a SHA-256 block boundary.
    @Test("the JavaScript worker's solver finds nonces the gate accepts", .enabled(if: ProofOfWorkTests.node != nil))
    func javascriptSolver() throws {
        let worker = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/WaitingRoomServer/Resources/pow-worker.js").path
        var challenges: [(String, Int)] = [(pow.issue(scope: "drop", bits: 14, nowMs: now).text, 14)]
        for scope in ["a", "room-with-a-longer-name", String(repeating: "r", count: 40)] {
            challenges.append((pow.issue(scope: scope, bits: 10, nowMs: now).text, 10))
        }
        let script = """
            const { solve } = require(process.argv[1]);
            const input = JSON.parse(process.argv[2]);
            console.log(JSON.stringify(input.map(([c, b]) => solve(c, b).nonce)));
            """
        let json = String(decoding: try JSONSerialization.data(withJSONObject: challenges.map { [$0.0, $0.1] as [Any] }), as: UTF8.self)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.node!)
        process.arguments = ["-e", script, worker, json]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let nonces = try #require(try JSONSerialization.jsonObject(with: output) as? [String])
        #expect(nonces.count == challenges.count)
        for ((text, bits), nonce) in zip(challenges, nonces) {
            let scope = String(text.split(separator: ".")[1])
            #expect(throws: Never.self) { try pow.verify(text, nonce: nonce, scope: scope, requiredBits: bits, nowMs: now) }
        }
    }

    static let node: String? = ["/usr/bin/node", "/usr/local/bin/node"].first { FileManager.default.isExecutableFile(atPath: $0) }
}
