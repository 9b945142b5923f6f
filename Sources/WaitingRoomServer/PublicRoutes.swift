import Foundation
import Hummingbird
import NIOCore
import WaitingRoomCore
import WaitingRoomStore
import WaitingRoomTokens

/// Shopper routes: join, status (and claim), JWKS, the waiting page. Join and status are the hot paths:
/// status reads only the cache; join rides a group commit.
struct PublicRoutes: Sendable {
    let rooms: RoomLookup
    let committer: JoinCommitter
    let store: RoomStore
    let tickets: TicketSigner
    let keys: SigningKeySet
    let rules: TicketRules
    let policy: PollPolicy
    let issuer: String
    let secureCookies: Bool
    let reader: RequestReader
    let failures: StoreFailures
    let metrics: GateMetrics
    let pages: Pages
    let jwksJSON: String
    /// Per-client join limits (each room's `joinsPerClientPerMinute`).
    let joinLimiter: JoinLimiter
    /// Also count joins per client in Redis (the budget shared by all gates).
    let sharedJoinBudget: Bool
    /// Proof of work before joining (each room's `proofOfWorkBits`).
    let proofOfWork: ProofOfWorkGate
    /// Join passes (each room's `requireJoinPass` and `joinPassSecret`).
    let passKeys: JoinPassKeys

    func add(to router: Router<BasicRequestContext>) {
        router.post("/v1/rooms/:room/join") { request, context in try await self.join(request, context) }
        router.get("/v1/rooms/:room/status") { request, context in try await self.status(request, context) }
        router.get("/.well-known/jwks.json") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "application/json", .cacheControl: "public, max-age=300"],
                body: .init(byteBuffer: ByteBuffer(string: self.jwksJSON))
            )
        }
        addPages(to: router)
    }

    /// The room (cached, or looked up once when this instance has not seen it yet), or 404.
    func room(_ context: some RequestContext) async throws(APIError) -> (name: String, entry: RoomCache.Entry) {
        guard let name = context.parameters.get("room"), RoomName.isValid(name), let entry = await rooms.entry(name) else {
            throw .notFound("no such room")
        }
        return (name, entry)
    }

    /// A verified ticket, or the 401 that explains why not.
    func verifiedTicket(_ text: String?, room: String, epoch: String, nowMs: Int64) throws(APIError) -> QueueTicket {
        guard let text, !text.isEmpty else { throw .unauthorized("no ticket: join first", code: "missing_ticket") }
        guard let payload = try? tickets.open(text), let ticket = QueueTicket(payload: payload) else {
            throw .unauthorized("the ticket is not valid", code: "invalid_ticket")
        }
        switch rules.problem(with: ticket, room: room, epoch: epoch, nowMs: nowMs) {
        case nil: return ticket
        case .foreign: throw .unauthorized("the ticket is for another room", code: "foreign_ticket")
        case .expired: throw .unauthorized("the ticket has expired", code: "expired_ticket")
        }
    }

    /// The ticket a request carries: the room's cookie, or `Authorization: Bearer` when there is no cookie
    /// or the cookie is junk.
    func presentedTicket(_ request: Request, room: String) -> String? {
        Gate.preferValidTicket(cookie: request.cookies[Self.cookieName(room)]?.value, bearer: RequestReader.bearer(request)) {
            (try? tickets.open($0)) != nil
        }
    }

    static func cookieName(_ room: String) -> String { "wr_" + room }

    static func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    func join(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let started = ContinuousClock.now
        defer { metrics.record(metrics.joinLatency, since: started) }
        // Joins usually carry no body; only read one when the request says it has one.
        let hasBody = request.headers[.contentLength].map { $0 != "0" } ?? (request.headers[.transferEncoding] != nil)
        let body = hasBody ? try await reader.body(request) : ByteBuffer()
        // `{"fresh": true}` asks for a new place at the back even with a valid ticket (after an expired
        // offer: "join again"); `pass` may carry a join pass (a form post); other fields are ignored.
        var fresh = false
        var bodyPass: String?
        if body.readableBytes > 0 {
            let object = try RequestReader.jsonObject(body)
            switch object["fresh"] {
            case nil, .null: break
            case .bool(let value): fresh = value
            default: throw APIError.badRequest("fresh: must be a boolean", code: "invalid_fresh")
            }
            switch object["pass"] {
            case nil, .null: break
            case .string(let text): bodyPass = text
            default: throw APIError.badRequest("pass: must be a string", code: "invalid_pass_field")
            }
        }
        let (room, entry) = try await self.room(context)
        let settings = entry.snapshot.settings
        let nowMs = Self.nowMs()
        // A shopper who already holds a valid ticket keeps their place: same ticket, no new seq, no checks.
        if !fresh, let presented = presentedTicket(request, room: room),
            let ticket = try? verifiedTicket(presented, room: room, epoch: entry.snapshot.epoch, nowMs: nowMs)
        {
            return joinResponse(ticket: presented, parsed: ticket, entry: entry, nowMs: nowMs)
        }
        if entry.snapshot.state == .closed { throw APIError(.gone, "closed", "this drop is closed") }
        // The checks a new place must pass, cheapest first: a missing proof of work costs a challenge and
        // nothing else (no budget spent), then the client's budget, then the proof, then the pass.
        let bits = settings.proofOfWorkBits
        var solution: (challenge: String, nonce: String)?
        if bits > 0 {
            guard let challenge = request.headers[ProofOfWorkGate.challengeHeader], let nonce = request.headers[ProofOfWorkGate.nonceHeader] else {
                return challengeResponse(room: room, bits: bits, message: "solve the challenge to join")
            }
            solution = (challenge, nonce)
        }
        try joinLimiter.check(request, room: room, perMinute: settings.joinsPerClientPerMinute)
        if sharedJoinBudget, settings.joinsPerClientPerMinute > 0, let client = joinLimiter.clientKey(request) {
            // A fixed minute window in Redis on top of this gate's bucket; a Redis error leaves it to the bucket.
            let minute = nowMs / 60_000
            if let count = try? await store.countJoin(room: room, client: client, minute: minute), count > settings.joinsPerClientPerMinute {
                throw JoinLimiter.rateLimited(retryAfterSeconds: Int(max(1, (minute + 1) * 60 - nowMs / 1000)))
            }
        }
        if let solution {
            if let problem = proofOfWork.problem(challenge: solution.challenge, nonce: solution.nonce, room: room, requiredBits: bits) {
                guard problem.code == "pow_expired" else { throw problem }
                return challengeResponse(room: room, bits: bits, message: "the challenge expired; solve this one")
            }
        }
        var passHolder: String?
        if settings.requireJoinPass {
            let pass = try passKeys.verify(
                request.headers[JoinPassKeys.header] ?? bodyPass, room: room, secret: settings.joinPassSecret, nowSeconds: nowMs / 1000
            )
            passHolder = JoinPass.ticketID(sub: pass.sub)
        }
        let placement: RoomStore.JoinResult
        do {
            if let passHolder {
                placement = try await store.join(room: room, passHolder: passHolder)
            } else {
                placement = try await committer.join(room: room)
            }
        } catch {
            throw failures.response(for: error)
        }
        switch placement {
        case .missing: throw APIError.notFound("no such room")
        case .closed: throw APIError(.gone, "closed", "this drop is closed")
        case .placed(let seq, _, let epoch):
            metrics.joins.increment()
            let ticket = QueueTicket(room: room, epoch: epoch, seq: seq, issuedAtMs: nowMs, id: passHolder ?? RandomID.make())
            let text = tickets.sign(ticket.payload)
            var response = joinResponse(ticket: text, parsed: ticket, entry: entry, nowMs: nowMs)
            // Written by hand: the header is the same shape on every join (a hot path).
            let secure = secureCookies ? "; Secure" : ""
            response.headers[.setCookie] = "\(Self.cookieName(room))=\(text); Max-Age=\(rules.maximumAgeMs / 1000); Path=/; HttpOnly; SameSite=Lax\(secure)"
            return response
        }
    }

    /// 428 with a fresh challenge: the page solves it in a Web Worker and joins again with the solution.
    private func challengeResponse(room: String, bits: Int, message: String) -> Response {
        Response(
            status: .preconditionRequired,
            headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store", .xContentTypeOptions: "nosniff"],
            body: .init(byteBuffer: ByteBuffer(string: ProofOfWorkGate.challengeJSON(proofOfWork.issue(room: room, bits: bits), message: message)))
        )
    }

    /// The join answer: the ticket plus exactly what a status poll would say (position, ETA, on hold).
    private func joinResponse(ticket text: String, parsed ticket: QueueTicket, entry: RoomCache.Entry, nowMs: Int64) -> Response {
        let fields = StatusJSON.fields(decide(ticket, entry: entry, nowMs: nowMs), stale: false)
        return Responses.json(#"{"ticket":"\#(text)",\#(fields)}"#)
    }

    private func decide(_ ticket: QueueTicket, entry: RoomCache.Entry, nowMs: Int64) -> ShopperStatus {
        ShopperStatus.decide(
            seq: ticket.seq, jitterSeed: PollPolicy.jitterSeed(ticketID: ticket.id), snapshot: entry.snapshot,
            slotsFreeingPerSecond: entry.slotsFreeingPerSecond, nowMs: nowMs, policy: policy
        )
    }

    func status(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let started = ContinuousClock.now
        defer { metrics.record(metrics.statusLatency, since: started) }
        let (room, entry) = try await self.room(context)
        let nowMs = Self.nowMs()
        let ticket = try verifiedTicket(presentedTicket(request, room: room), room: room, epoch: entry.snapshot.epoch, nowMs: nowMs)
        let decision = decide(ticket, entry: entry, nowMs: nowMs)
        if case .claim(let effectivePosition) = decision {
            return try await claim(ticket: ticket, effectivePosition: effectivePosition, entry: entry)
        }
        return Responses.json("{" + StatusJSON.fields(decision, stale: entry.isStale) + "}")
    }

    /// The shopper's turn: record the admission once (idempotent) and hand out the signed token — at once,
    /// or after the moment the entry gate reserved (the shopper is told to poll again just then).
    private func claim(ticket: QueueTicket, effectivePosition: Int64, entry: RoomCache.Entry) async throws -> Response {
        let started = ContinuousClock.now
        defer { metrics.record(metrics.claimLatency, since: started) }
        let result: RoomStore.ClaimResult
        do {
            result = try await store.claim(
                room: ticket.room, ticketID: ticket.id, epoch: ticket.epoch, effectivePosition: effectivePosition,
                waitedMs: Self.nowMs() - ticket.issuedAtMs
            )
        } catch {
            throw failures.response(for: error)
        }
        switch result {
        case .admitted(let admission, let redisNowMs) where admission.entersAtMs > redisNowMs:
            let waitMs = admission.entersAtMs - redisNowMs
            let eta = ETARange(low: 0, high: Int((waitMs + 999) / 1000))
            return Responses.json("{" + StatusJSON.fields(state: "entering", position: 0, eta: eta, onHold: false, pollAfterMs: policy.enteringInterval(waitMs: waitMs)) + "}")
        case .admitted(let admission, _):
            metrics.claims.increment()
            // A pass holder's token names the shop's customer, so the order service can match the signed-in one.
            let claims = AdmissionClaims(
                iss: issuer, aud: ticket.room, sub: JoinPass.subject(ticketID: ticket.id) ?? ticket.id, jti: admission.jti,
                iat: admission.entersAtMs / 1000, nbf: admission.entersAtMs / 1000, exp: admission.expiresAtMs / 1000,
                seq: ticket.seq, tid: ticket.id
            )
            let token = keys.sign(claims)
            let url = JSONText.escape(entry.snapshot.settings.checkoutUrl)
            return Responses.json(
                #"{"state":"admitted","position":0,"etaSeconds":null,"pollAfterMs":0,"token":"\#(token)","checkoutUrl":"\#(url)","expiresAt":\#(claims.exp)}"#
            )
        case .done(let end):
            return Responses.json(#"{"state":"done","reason":"\#(end.rawValue)","position":null,"etaSeconds":null,"pollAfterMs":0}"#)
        case .expired:
            metrics.expiredClaims.increment()
            return Responses.json(#"{"state":"expired","position":null,"etaSeconds":null,"pollAfterMs":0}"#)
        case .closed:
            return Responses.json(#"{"state":"closed","position":null,"etaSeconds":null,"pollAfterMs":0}"#)
        case .waiting:
            return Responses.json("{" + StatusJSON.fields(state: "waiting", position: 0, eta: nil, onHold: false, pollAfterMs: policy.minimumMs) + "}")
        case .foreign:
            throw APIError.unauthorized("the ticket is for another room", code: "foreign_ticket")
        case .missing:
            throw APIError.notFound("no such room")
        }
    }
}

/// The status fields of a poll answer, written by hand (a hot path) in one place for join and status.
enum StatusJSON {
    static func fields(state: String, position: Int64?, eta: ETARange?, onHold: Bool, pollAfterMs: Int) -> String {
        let positionJSON = position.map(String.init) ?? "null"
        let etaJSON = eta.map { #"{"low":\#($0.low),"high":\#($0.high)}"# } ?? "null"
        return #""state":"\#(state)","position":\#(positionJSON),"etaSeconds":\#(etaJSON),"onHold":\#(onHold),"pollAfterMs":\#(pollAfterMs)"#
    }

    static func fields(_ decision: ShopperStatus, stale: Bool) -> String {
        let staleJSON = stale ? #","stale":true"# : ""
        switch decision {
        case .waiting(let position, let eta, let onHold, let poll):
            return fields(state: "waiting", position: position, eta: eta, onHold: onHold, pollAfterMs: poll) + staleJSON
        case .paused(let position, let poll):
            return fields(state: "paused", position: position, eta: nil, onHold: true, pollAfterMs: poll) + staleJSON
        case .scheduled(let opensIn, let poll):
            return fields(state: "scheduled", position: nil, eta: nil, onHold: false, pollAfterMs: poll) + #","opensInSeconds":\#(opensIn)"# + staleJSON
        case .closed:
            return fields(state: "closed", position: nil, eta: nil, onHold: false, pollAfterMs: 0) + staleJSON
        case .claim:
            // Only a join answers this: its turn has come already, the first poll claims.
            return fields(state: "waiting", position: 0, eta: ETARange(low: 0, high: 1), onHold: false, pollAfterMs: 1_000) + staleJSON
        }
    }
}
