import Foundation
import Hummingbird
import NIOCore
import WaitingRoomCore
import WaitingRoomStore
import WaitingRoomTokens

/// Shopper routes: join, status (and claim), JWKS, the waiting page. The decisions are ``ShopperFlow``'s;
/// these routes read the request and encode the typed answer. Join and status are the hot paths: status
/// reads only the cache; join rides a group commit. The room board is ``BoardRoutes``.
struct PublicRoutes: Sendable {
    let flow: ShopperFlow
    let reader: RequestReader
    let pages: Pages
    let jwksJSON: String
    /// The ticket cookie: its lifetime and whether it is `Secure`.
    let cookie: TicketCookie

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

    static func cookieName(_ room: String) -> String { "wr_" + room }

    func join(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let started = ContinuousClock.now
        defer { flow.metrics.record(flow.metrics.joinLatency, since: started) }
        let asked = try await joinRequest(request)
        switch try await flow.join(request, room: context.parameters.get("room"), asked) {
        case .challenge(let challenge, let message):
            return Self.challengeResponse(challenge, message: message)
        case .placed(let reply, let ticket, let newTicket):
            var response = Responses.json(reply.json)
            if newTicket, let text = reply.ticket { response.headers[.setCookie] = cookie.header(room: ticket.room, ticket: text) }
            return response
        }
    }

    /// What a join's body asks: `{"fresh": true}` for a new place at the back even with a valid ticket (after
    /// an expired offer: "join again"); `pass` may carry a join pass (a form post); other fields are ignored.
    private func joinRequest(_ request: Request) async throws(APIError) -> ShopperFlow.JoinRequest {
        // Joins usually carry no body; only read one when the request says it has one.
        let hasBody = request.headers[.contentLength].map { $0 != "0" } ?? (request.headers[.transferEncoding] != nil)
        guard hasBody else { return .init() }
        let body = try await reader.body(request)
        guard body.readableBytes > 0 else { return .init() }
        var asked = ShopperFlow.JoinRequest()
        let object = try RequestReader.jsonObject(body)
        switch object["fresh"] {
        case nil, .null: break
        case .bool(let value): asked.fresh = value
        default: throw APIError.badRequest("fresh: must be a boolean", code: "invalid_fresh")
        }
        switch object["pass"] {
        case nil, .null: break
        case .string(let text): asked.pass = text
        default: throw APIError.badRequest("pass: must be a string", code: "invalid_pass_field")
        }
        return asked
    }

    /// 428 with a fresh challenge: the page solves it in a Web Worker and joins again with the solution.
    static func challengeResponse(_ challenge: ProofOfWork.Challenge, message: String) -> Response {
        Response(
            status: .preconditionRequired,
            headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store", .xContentTypeOptions: "nosniff"],
            body: .init(byteBuffer: ByteBuffer(string: ProofOfWorkGate.challengeJSON(challenge, message: message)))
        )
    }

    func status(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let started = ContinuousClock.now
        defer { flow.metrics.record(flow.metrics.statusLatency, since: started) }
        let room = context.parameters.get("room")
        let reply = try await flow.status(room: room, ticket: room.flatMap { flow.tickets.presented(request, room: $0) })
        return Responses.json(reply.json)
    }
}

/// The queue ticket's cookie: `HttpOnly`, `SameSite=Lax`, for as long as a ticket lives.
struct TicketCookie: Sendable {
    let maxAgeSeconds: Int64
    let secure: Bool

    /// Written by hand: the header is the same shape on every join (a hot path).
    func header(room: String, ticket: String) -> String {
        "\(PublicRoutes.cookieName(room))=\(ticket); Max-Age=\(maxAgeSeconds); Path=/; HttpOnly; SameSite=Lax\(secure ? "; Secure" : "")"
    }
}
