import Foundation
import Hummingbird
import WaitingRoomCore
import WaitingRoomStore
import WaitingRoomTokens

/// The shopper's side of the queue: joining and asking "where am I?", decided in one place and answered as a
/// typed ``ShopperReply``. The API routes and the no-JavaScript page only encode or render it.
///
/// Status reads only this gate's cache (no Redis command) until the shopper's turn has come; then it claims
/// (one Redis call, idempotent). A new place rides the group commit.
struct ShopperFlow: Sendable {
    let rooms: RoomLookup
    let places: Places
    let tickets: Tickets
    let admissions: Admissions
    let checks: JoinChecks
    let policy: PollPolicy
    /// The rooms' boards: how late a board-following page may notice its turn (``RoomBoard/lagSeconds(readAfterMs:)``).
    let boards: BuiltBoards
    let failures: StoreFailures
    let metrics: GateMetrics

    /// Where new places come from: the group commit, or (one place per join pass) the store directly.
    struct Places: Sendable {
        let committer: JoinCommitter
        let store: RoomStore
    }

    /// Ticket signing and the rules a presented ticket must pass.
    struct Tickets: Sendable {
        let signer: TicketSigner
        let rules: TicketRules

        /// A verified ticket, or the 401 that explains why not.
        func verified(_ text: String?, room: String, epoch: String, nowMs: Int64) throws(APIError) -> QueueTicket {
            guard let text, !text.isEmpty else { throw .unauthorized("no ticket: join first", code: "missing_ticket") }
            guard let ticket = parsed(text) else { throw .unauthorized("the ticket is not valid", code: "invalid_ticket") }
            switch rules.problem(with: ticket, room: room, epoch: epoch, nowMs: nowMs) {
            case nil: return ticket
            case .foreign: throw .unauthorized("the ticket is for another room", code: "foreign_ticket")
            case .expired: throw .unauthorized("the ticket has expired", code: "expired_ticket")
            }
        }

        /// The ticket a text holds when its signature is ours (whatever its room or age).
        func parsed(_ text: String) -> QueueTicket? {
            (try? signer.open(text)).flatMap { QueueTicket(payload: $0) }
        }

        /// The ticket a request carries: the room's cookie, or `Authorization: Bearer` when there is no cookie
        /// or the cookie is junk.
        func presented(_ request: Request, room: String) -> String? {
            Gate.preferValidTicket(cookie: request.cookies[PublicRoutes.cookieName(room)]?.value, bearer: RequestReader.bearer(request)) {
                (try? signer.open($0)) != nil
            }
        }
    }

    /// Recording a claimed admission and signing its token.
    struct Admissions: Sendable {
        let store: RoomStore
        let keys: SigningKeySet
        let issuer: String
    }

    /// What a join asks for besides the request itself.
    struct JoinRequest: Sendable {
        /// A new place at the back even with a valid ticket (after an expired offer: "join again").
        var fresh = false
        /// A join pass from a form body (the header wins).
        var pass: String?
    }

    enum JoinOutcome: Sendable {
        /// The shopper's place: a new ticket (`newTicket`, set the cookie) or the one they already held.
        case placed(ShopperReply, ticket: QueueTicket, newTicket: Bool)
        /// Solve this proof-of-work challenge, then join again.
        case challenge(ProofOfWork.Challenge, message: String)
    }

    static func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// The room (cached, or looked up once when this instance has not seen it yet), or 404.
    func room(_ name: String?) async throws(APIError) -> (name: String, entry: RoomCache.Entry) {
        guard let name, RoomName.isValid(name), let entry = await rooms.entry(name) else { throw .notFound("no such room") }
        return (name, entry)
    }

    func join(_ request: Request, room name: String?, _ asked: JoinRequest) async throws(APIError) -> JoinOutcome {
        let (room, entry) = try await self.room(name)
        let nowMs = Self.nowMs()
        // A shopper who already holds a valid ticket keeps their place: same ticket, no new seq, no checks.
        if !asked.fresh, let presented = tickets.presented(request, room: room),
            let ticket = try? tickets.verified(presented, room: room, epoch: entry.snapshot.epoch, nowMs: nowMs)
        {
            var reply = joinReply(ticket, entry: entry, nowMs: nowMs)
            reply.ticket = presented
            return .placed(reply, ticket: ticket, newTicket: false)
        }
        if entry.snapshot.state == .closed { throw Self.closed }
        let passHolder: String?
        switch try await checks.check(request, room: room, settings: entry.snapshot.settings, pass: asked.pass, nowMs: nowMs) {
        case .challenge(let challenge, let message): return .challenge(challenge, message: message)
        case .cleared(let holder): passHolder = holder
        }
        let placement: RoomStore.JoinResult
        do {
            placement = try await passHolder == nil ? places.committer.join(room: room) : places.store.join(room: room, passHolder: passHolder!)
        } catch {
            throw failures.response(for: error)
        }
        switch placement {
        case .missing: throw .notFound("no such room")
        case .closed: throw Self.closed
        case .placed(let seq, _, let epoch):
            metrics.joins.increment()
            let ticket = QueueTicket(room: room, epoch: epoch, seq: seq, issuedAtMs: nowMs, id: passHolder ?? RandomID.make())
            var reply = joinReply(ticket, entry: entry, nowMs: nowMs)
            reply.ticket = tickets.signer.sign(ticket.payload)
            return .placed(reply, ticket: ticket, newTicket: true)
        }
    }

    static let closed = APIError(.gone, "closed", "this drop is closed")

    /// The join answer: exactly what a status poll would say, except that a turn already come is claimed
    /// by the first poll, not by the join.
    private func joinReply(_ ticket: QueueTicket, entry: RoomCache.Entry, nowMs: Int64) -> ShopperReply {
        var reply = decide(ticket, entry: entry, nowMs: nowMs)
        if case .claim = reply.decision {
            reply.reply.answer = .waiting(position: 0, eta: ETARange(low: 0, high: 1), onHold: false, pollAfterMs: 1_000)
        }
        reply.reply.stale = false
        return reply.reply
    }

    /// Where a verified ticket stands, from the cache alone.
    private func decide(_ ticket: QueueTicket, entry: RoomCache.Entry, nowMs: Int64) -> (decision: ShopperStatus, reply: ShopperReply) {
        let snapshot = entry.snapshot
        let decision = ShopperStatus.decide(
            seq: ticket.seq, jitterSeed: PollPolicy.jitterSeed(ticketID: ticket.id), snapshot: snapshot,
            slotsFreeingPerSecond: entry.slotsFreeingPerSecond, nowMs: nowMs, policy: policy
        )
        let answer: ShopperAnswer
        var place: Int64?
        switch decision {
        case .waiting(let position, let eta, let onHold, let poll):
            // This answer carries a place, so the page follows the board from here: its turn may be noticed a
            // read interval (and a cache's second) late, which the range owns up to.
            let lag = RoomBoard.lagSeconds(readAfterMs: boards.readAfterMs(room: snapshot.name, claimWindowSeconds: snapshot.settings.claimWindowSeconds))
            answer = .waiting(position: position, eta: eta?.later(bySeconds: lag), onHold: onHold, pollAfterMs: poll)
            place = snapshot.head + position + 1
        case .paused(let position, let poll):
            answer = .paused(position: position, pollAfterMs: poll)
            place = snapshot.head + position + 1
        case .scheduled(let opensIn, let poll):
            answer = .scheduled(opensInSeconds: opensIn, pollAfterMs: poll)
        case .closed:
            answer = .closed
            place = snapshot.effectivePosition(ofSeq: ticket.seq)
        case .claim(let effectivePosition):
            answer = .waiting(position: 0, eta: nil, onHold: false, pollAfterMs: policy.minimumMs)
            place = effectivePosition
        }
        var reply = ShopperReply(answer: answer, place: place, stale: entry.isStale)
        let prequeued = snapshot.state == .scheduled || (snapshot.prequeue > 0 && ticket.seq <= snapshot.prequeue)
        if snapshot.lotteryCommitment != nil || prequeued {
            reply.lottery = .init(
                commitment: snapshot.lotteryCommitment, key: snapshot.state == .scheduled ? nil : snapshot.lotteryKey,
                prequeueNumber: prequeued ? ticket.seq : nil
            )
        }
        return (decision, reply)
    }

    /// Where the shopper holding `presented` stands; when their turn has come, the claim.
    func status(room name: String?, ticket presented: String?) async throws(APIError) -> ShopperReply {
        let (room, entry) = try await self.room(name)
        let nowMs = Self.nowMs()
        let ticket = try tickets.verified(presented, room: room, epoch: entry.snapshot.epoch, nowMs: nowMs)
        let (decision, reply) = decide(ticket, entry: entry, nowMs: nowMs)
        guard case .claim(let effectivePosition) = decision else { return reply }
        return try await claim(ticket: ticket, effectivePosition: effectivePosition, entry: entry)
    }

    /// How near the reserved entry moment must be for the token to go with the `entering` answer. A client
    /// that does not wait for the moment can reach checkout at most this much early: verifiers accept `nbf`
    /// with leeway (ours 5 s), so the token alone would not stop it. Beyond it, the shopper asks again.
    static let earlyTokenLimitMs: Int64 = 3_000

    /// The shopper's turn: record the admission once (idempotent) and hand out the signed token — at once,
    /// with the moment the entry gate reserved when it is near, or else on asking again just then.
    private func claim(ticket: QueueTicket, effectivePosition: Int64, entry: RoomCache.Entry) async throws(APIError) -> ShopperReply {
        let started = ContinuousClock.now
        defer { metrics.record(metrics.claimLatency, since: started) }
        let result: RoomStore.ClaimResult
        do {
            result = try await admissions.store.claim(
                room: ticket.room, ticketID: ticket.id, epoch: ticket.epoch, effectivePosition: effectivePosition,
                waitedMs: Self.nowMs() - ticket.issuedAtMs
            )
        } catch {
            throw failures.response(for: error)
        }
        let answer: ShopperAnswer
        switch result {
        case .admitted(let admission, let redisNowMs):
            let waitMs = admission.entersAtMs - redisNowMs
            func entering(_ early: EarlyEntry?) -> ShopperAnswer {
                .entering(eta: ETARange(low: 0, high: Int((waitMs + 999) / 1000)), pollAfterMs: policy.enteringInterval(waitMs: waitMs), early: early)
            }
            guard waitMs <= Self.earlyTokenLimitMs else {
                answer = entering(nil)
                break
            }
            metrics.claims.increment()
            // A pass holder's token names the shop's customer, so the order service can match the signed-in one.
            let claims = AdmissionClaims(
                iss: admissions.issuer, aud: ticket.room, sub: JoinPass.subject(ticketID: ticket.id) ?? ticket.id, jti: admission.jti,
                iat: admission.entersAtMs / 1000, nbf: admission.entersAtMs / 1000, exp: admission.expiresAtMs / 1000,
                seq: ticket.seq, tid: ticket.id
            )
            let token = admissions.keys.sign(claims), checkoutUrl = entry.snapshot.settings.checkoutUrl
            // A moment still ahead but near: the token now, so the page goes then instead of asking again.
            answer = waitMs > 0
                ? entering(EarlyEntry(token: token, checkoutUrl: checkoutUrl, expiresAt: claims.exp, entersInMs: waitMs))
                : .admitted(token: token, checkoutUrl: checkoutUrl, expiresAt: claims.exp)
        case .done(let end):
            answer = .done(end)
        case .expired:
            metrics.expiredClaims.increment()
            answer = .expired
        case .closed:
            answer = .closed
        case .waiting:
            answer = .waiting(position: 0, eta: nil, onHold: false, pollAfterMs: policy.minimumMs)
        case .foreign:
            throw .unauthorized("the ticket is for another room", code: "foreign_ticket")
        case .missing:
            throw .notFound("no such room")
        }
        return ShopperReply(answer: answer, place: effectivePosition)
    }
}
