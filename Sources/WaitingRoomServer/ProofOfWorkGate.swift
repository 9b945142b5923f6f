import Foundation
import HTTPTypes
import Synchronization
import WaitingRoomCore
import WaitingRoomTokens

/// Proof of work as a join route uses it: issue a challenge for a room, and redeem a solved one exactly
/// once on this instance (``SpentChallenges`` behind a lock). A challenge expires within
/// ``ProofOfWork/defaultLifetimeMs``, which bounds reuse across instances to one per instance.
///
/// ```swift
/// let pow = ProofOfWorkGate(signer: gate.tickets)
/// // no solution presented: 428 with {"error":"pow_required","challenge":..., "bits":...}
/// let challenge = pow.issue(room: room, bits: settings.proofOfWorkBits)
/// // solution presented (e.g. headers X-Waitroom-Pow-Challenge / X-Waitroom-Pow-Nonce):
/// try pow.redeem(challenge: text, nonce: nonce, room: room, requiredBits: settings.proofOfWorkBits)
/// ```
public final class ProofOfWorkGate: Sendable {
    public let proofOfWork: ProofOfWork
    private let spent: Mutex<SpentChallenges>
    private let clock: @Sendable () -> Int64

    public init(signer: TicketSigner, lifetimeMs: Int64 = ProofOfWork.defaultLifetimeMs, capacity: Int = 200_000,
                clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1_000) }) {
        proofOfWork = ProofOfWork(signer: signer, lifetimeMs: lifetimeMs)
        spent = Mutex(SpentChallenges(capacity: capacity))
        self.clock = clock
    }

    public func issue(room: String, bits: Int) -> ProofOfWork.Challenge {
        proofOfWork.issue(scope: room, bits: bits, nowMs: clock())
    }

    /// Verifies and spends a solved challenge; a second use is refused (`pow_reused`).
    public func redeem(challenge: String, nonce: String, room: String, requiredBits: Int) throws(APIError) {
        let now = clock()
        let verified: ProofOfWork.Verified
        do {
            verified = try proofOfWork.verify(challenge, nonce: nonce, scope: room, requiredBits: requiredBits, nowMs: now)
        } catch .expired {
            throw APIError(.badRequest, "pow_expired", "the challenge expired; ask for a new one")
        } catch {
            throw APIError(.badRequest, "pow_invalid", error.description)
        }
        let fresh = spent.withLock { $0.spend(verified.id, expiresAtMs: verified.expiresAtMs, nowMs: now) }
        guard fresh else { throw APIError(.badRequest, "pow_reused", "this challenge was already used; solve a new one") }
    }

    /// The headers a solved join carries.
    /// Like ``redeem(challenge:nonce:room:requiredBits:)``, returning the refusal instead of throwing it.
    public func problem(challenge: String, nonce: String, room: String, requiredBits: Int) -> APIError? {
        do {
            try redeem(challenge: challenge, nonce: nonce, room: room, requiredBits: requiredBits)
            return nil
        } catch {
            return error
        }
    }

    public static let challengeHeader = HTTPField.Name("X-Waitroom-Pow-Challenge")!
    public static let nonceHeader = HTTPField.Name("X-Waitroom-Pow-Nonce")!

    /// The JSON a join answers with (status 428) when a solution is required.
    public static func challengeJSON(_ challenge: ProofOfWork.Challenge, message: String = "solve the challenge to join") -> String {
        #"{"error":"pow_required","message":"\#(JSONText.escape(message))","challenge":"\#(challenge.text)","bits":\#(challenge.bits),"expiresAt":\#(challenge.expiresAtMs / 1000),"worker":"/assets/pow-worker.js"}"#
    }
}
