import Foundation
import Hummingbird
import NIOCore
import WaitingRoomCore
import WaitingRoomStore
import WaitingRoomTokens

/// Shopper routes: join, status (and claim), JWKS, the waiting page. Join and status are the hot paths:
/// status reads only the cache; join rides a group commit.
extension Gate {
    func addPublicRoutes(to router: Router<BasicRequestContext>) {
        router.post("/v1/rooms/:room/join") { request, context in try await self.join(request, context) }
        router.get("/v1/rooms/:room/status") { request, context in try await self.status(request, context) }
        router.get("/.well-known/jwks.json") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "application/json", .cacheControl: "public, max-age=300"],
                body: .init(byteBuffer: ByteBuffer(string: self.jwksJSON))
            )
        }
        router.get("/wait/:room") { _, context in
            guard let (room, _) = try? self.room(context) else {
                return Self.html(status: .notFound, "<!doctype html><title>Not found</title><p>No such waiting room.</p>")
            }
            return Self.html(status: .ok, self.pages.wait.replacingOccurrences(of: "__ROOM__", with: room))
        }
    }

    func join(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let started = ContinuousClock.now
        defer { metrics.record(metrics.joinLatency, since: started) }
        // Joins usually carry no body; only read one when the request says it has one.
        let hasBody = request.headers[.contentLength].map { $0 != "0" } ?? (request.headers[.transferEncoding] != nil)
        let body = hasBody ? try await self.body(request) : ByteBuffer()
        if body.readableBytes > 0 {
            // The join takes no fields, but a body that is not JSON is a client bug worth saying so.
            guard (try? JSONSerialization.jsonObject(with: Data(buffer: body))) is [String: Any] else {
                throw APIError.badRequest("body must be a JSON object", code: "malformed_json")
            }
        }
        let (room, entry) = try self.room(context)
        let nowMs = Self.nowMs()
        // A shopper who already holds a valid ticket keeps their place: same ticket, no new seq.
        if let presented = presentedTicket(request, room: room),
            let ticket = try? verifiedTicket(presented, room: room, epoch: entry.snapshot.epoch, nowMs: nowMs)
        {
            return joinResponse(ticket: presented, parsed: ticket, entry: entry, nowMs: nowMs)
        }
        if entry.snapshot.state == .closed { throw APIError(.gone, "closed", "this drop is closed") }
        try joinLimiter?.check(request)
        let placement: RoomStore.JoinResult
        do {
            placement = try await committer.join(room: room)
        } catch {
            throw storeFailure(error)
        }
        switch placement {
        case .missing: throw APIError.notFound("no such room")
        case .closed: throw APIError(.gone, "closed", "this drop is closed")
        case .placed(let seq, _, let epoch):
            metrics.joins.increment()
            let ticket = QueueTicket(room: room, epoch: epoch, seq: seq, issuedAtMs: nowMs, id: RandomID.make())
            let text = tickets.sign(ticket.payload)
            var response = joinResponse(ticket: text, parsed: ticket, entry: entry, nowMs: nowMs)
            // Written by hand: the header is the same shape on every join (a hot path).
            let secure = configuration.secureCookies ? "; Secure" : ""
            response.headers[.setCookie] = "\(Self.cookieName(room))=\(text); Max-Age=\(ticketMaxAgeMs / 1000); Path=/; HttpOnly; SameSite=Lax\(secure)"
            return response
        }
    }

    private func joinResponse(ticket text: String, parsed ticket: QueueTicket, entry: RoomCache.Entry, nowMs: Int64) -> Response {
        let status = ShopperStatus.decide(
            seq: ticket.seq, jitterSeed: Self.jitterSeed(ticket.id), snapshot: entry.snapshot,
            admissionRate: entry.admissionRate, nowMs: nowMs, policy: policy
        )
        var json = #"{"ticket":"\#(text)","#
        switch status {
        case .waiting(let position, _, let poll): json += #""position":\#(position),"state":"waiting","pollAfterMs":\#(poll)}"#
        case .paused(let position, let poll): json += #""position":\#(position),"state":"paused","pollAfterMs":\#(poll)}"#
        case .scheduled(let opensIn, let poll):
            json += #""position":null,"state":"scheduled","opensInSeconds":\#(opensIn),"pollAfterMs":\#(poll)}"#
        case .closed: json += #""position":null,"state":"closed","pollAfterMs":0}"#
        case .claim: json += #""position":0,"state":"waiting","pollAfterMs":\#(policy.minimumMs)}"#
        }
        return Self.json(json)
    }

    func status(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let started = ContinuousClock.now
        defer { metrics.record(metrics.statusLatency, since: started) }
        let (room, entry) = try self.room(context)
        let nowMs = Self.nowMs()
        let ticket = try verifiedTicket(presentedTicket(request, room: room), room: room, epoch: entry.snapshot.epoch, nowMs: nowMs)
        let stale = entry.isStale ? #","stale":true"# : ""
        let decision = ShopperStatus.decide(
            seq: ticket.seq, jitterSeed: Self.jitterSeed(ticket.id), snapshot: entry.snapshot,
            admissionRate: entry.admissionRate, nowMs: nowMs, policy: policy
        )
        switch decision {
        case .waiting(let position, let eta, let poll):
            let etaJSON = eta.map { #"{"low":\#($0.low),"high":\#($0.high)}"# } ?? "null"
            return Self.json(#"{"state":"waiting","position":\#(position),"etaSeconds":\#(etaJSON),"pollAfterMs":\#(poll)\#(stale)}"#)
        case .paused(let position, let poll):
            return Self.json(#"{"state":"paused","position":\#(position),"etaSeconds":null,"pollAfterMs":\#(poll)\#(stale)}"#)
        case .scheduled(let opensIn, let poll):
            return Self.json(#"{"state":"scheduled","position":null,"etaSeconds":null,"opensInSeconds":\#(opensIn),"pollAfterMs":\#(poll)\#(stale)}"#)
        case .closed:
            return Self.json(#"{"state":"closed","position":null,"etaSeconds":null,"pollAfterMs":0\#(stale)}"#)
        case .claim(let effectivePosition):
            return try await claim(ticket: ticket, effectivePosition: effectivePosition, entry: entry)
        }
    }

    /// The shopper's turn: record the admission once (idempotent) and hand out the signed token.
    private func claim(ticket: QueueTicket, effectivePosition: Int64, entry: RoomCache.Entry) async throws -> Response {
        let started = ContinuousClock.now
        defer { metrics.record(metrics.claimLatency, since: started) }
        let result: RoomStore.ClaimResult
        do {
            result = try await store.claim(room: ticket.room, ticketID: ticket.id, epoch: ticket.epoch, effectivePosition: effectivePosition)
        } catch {
            throw storeFailure(error)
        }
        switch result {
        case .admitted(let admission):
            metrics.claims.increment()
            let claims = AdmissionClaims(
                iss: configuration.issuer, aud: ticket.room, sub: ticket.id, jti: admission.jti,
                iat: admission.issuedAtMs / 1000, nbf: admission.issuedAtMs / 1000, exp: admission.expiresAtMs / 1000,
                seq: ticket.seq
            )
            let token = keys.sign(claims)
            let url = JSONText.escape(entry.snapshot.settings.checkoutUrl)
            return Self.json(
                #"{"state":"admitted","position":0,"etaSeconds":null,"pollAfterMs":0,"token":"\#(token)","checkoutUrl":"\#(url)","expiresAt":\#(claims.exp)}"#
            )
        case .expired:
            metrics.expiredClaims.increment()
            return Self.json(#"{"state":"expired","position":null,"etaSeconds":null,"pollAfterMs":0}"#)
        case .closed:
            return Self.json(#"{"state":"closed","position":null,"etaSeconds":null,"pollAfterMs":0}"#)
        case .waiting:
            return Self.json(#"{"state":"waiting","position":0,"etaSeconds":null,"pollAfterMs":\#(policy.minimumMs)}"#)
        case .foreign:
            throw APIError.unauthorized("the ticket is for another room", code: "foreign_ticket")
        case .missing:
            throw APIError.notFound("no such room")
        }
    }

    static func json(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: text))
        )
    }

    static func html(status: HTTPResponse.Status, _ text: String) -> Response {
        PageSecurity.page(status: status, text)
    }
}
