import Hummingbird
import WaitingRoomCore
import WaitingRoomStore
import WaitingRoomTokens

/// Everything a new place must pass before it is handed out, in one value: the per-client join limit (this
/// gate's bucket, and the budget shared by all gates in Redis), proof of work, and join passes.
struct JoinChecks: Sendable {
    /// Per-client join limits (each room's `joinsPerClientPerMinute`).
    let limiter: JoinLimiter
    /// Also count joins per client in Redis (the budget shared by all gates).
    let sharedBudget: Bool
    let store: RoomStore
    /// Proof of work before joining (each room's `proofOfWorkBits`).
    let proofOfWork: ProofOfWorkGate
    /// Join passes (each room's `requireJoinPass` and `joinPassSecret`).
    let passKeys: JoinPassKeys

    /// What the checks let through.
    enum Clearance: Sendable {
        /// Join; `passHolder` is the ticket id a join pass fixes (one place per pass), if the room needs one.
        case cleared(passHolder: String?)
        /// Solve this proof-of-work challenge first (a 428 for the API).
        case challenge(ProofOfWork.Challenge, message: String)
    }

    /// The checks, cheapest first: a missing proof of work costs a challenge and nothing else (no budget
    /// spent), then the client's budget, then the proof, then the pass. A refusal is thrown.
    ///
    /// - Parameter pass: a join pass from the request's body, when it has no pass header (a form post).
    func check(_ request: Request, room: String, settings: RoomSettings, pass: String?, nowMs: Int64) async throws(APIError) -> Clearance {
        let bits = settings.proofOfWorkBits
        var solution: (challenge: String, nonce: String)?
        if bits > 0 {
            guard let challenge = request.headers[ProofOfWorkGate.challengeHeader], let nonce = request.headers[ProofOfWorkGate.nonceHeader] else {
                return .challenge(proofOfWork.issue(room: room, bits: bits), message: "solve the challenge to join")
            }
            solution = (challenge, nonce)
        }
        try limiter.check(request, room: room, perMinute: settings.joinsPerClientPerMinute)
        if sharedBudget, settings.joinsPerClientPerMinute > 0, let client = limiter.clientKey(request) {
            // A fixed minute window in Redis on top of this gate's bucket; a Redis error leaves it to the bucket.
            let minute = nowMs / 60_000
            if let count = try? await store.countJoin(room: room, client: client, minute: minute), count > settings.joinsPerClientPerMinute {
                throw JoinLimiter.rateLimited(retryAfterSeconds: Int(max(1, (minute + 1) * 60 - nowMs / 1000)))
            }
        }
        if let solution, let problem = proofOfWork.problem(challenge: solution.challenge, nonce: solution.nonce, room: room, requiredBits: bits) {
            guard problem.code == "pow_expired" else { throw problem }
            return .challenge(proofOfWork.issue(room: room, bits: bits), message: "the challenge expired; solve this one")
        }
        guard settings.requireJoinPass else { return .cleared(passHolder: nil) }
        let verified = try passKeys.verify(
            request.headers[JoinPassKeys.header] ?? pass, room: room, secret: settings.joinPassSecret, nowSeconds: nowMs / 1000
        )
        return .cleared(passHolder: JoinPass.ticketID(sub: verified.sub))
    }
}
