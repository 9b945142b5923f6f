// The gate's cost to check a proof of work (one HMAC-SHA256 + one SHA-256), compiled -O with the tokens
// module by scripts/pow-verify-cost.sh. Prints nanoseconds per verification.
import Foundation

@main
enum PowVerifyCost {
    static func main() throws {
        let signer = try TicketSigner(secret: Array("pow-verify-cost-secret-0123456789".utf8))
        let pow = ProofOfWork(signer: signer)
        let now: Int64 = 1_800_000_000_000
        let bits = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 18
        let challenges = (0..<64).map { _ in pow.issue(scope: "sneaker-drop", bits: bits, nowMs: now) }
        let solved = challenges.map { ($0.text, ProofOfWork.solve($0.text, bits: bits)) }
        let solveStart = ContinuousClock.now
        _ = ProofOfWork.solve(pow.issue(scope: "sneaker-drop", bits: bits, nowMs: now).text, bits: bits)
        let solveNative = ContinuousClock.now - solveStart
        let rounds = 200_000
        let start = ContinuousClock.now
        var ok = 0
        for index in 0..<rounds {
            let (text, nonce) = solved[index & 63]
            if (try? pow.verify(text, nonce: nonce, scope: "sneaker-drop", requiredBits: bits, nowMs: now)) != nil { ok += 1 }
        }
        let elapsed = ContinuousClock.now - start
        precondition(ok == rounds)
        let ns = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
        print(String(format: "verify: %.0f ns per check (%d checks), %.0f checks/s on one core", ns / Double(rounds), rounds, Double(rounds) / (ns / 1e9)))
        print("one native solve at \(bits) bits (single thread, OpenSSL SHA-256): \(solveNative)")
    }
}
