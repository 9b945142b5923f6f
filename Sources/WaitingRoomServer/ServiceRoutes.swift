import Foundation
import Hummingbird
import WaitingRoomCore
import WaitingRoomStore
import WaitingRoomTokens

/// The order service's API under `/v1/admissions` (the group's middleware checks the service key).
struct ServiceRoutes: Sendable {
    let store: RoomStore
    let keys: SigningKeySet
    let issuer: String
    let leewaySeconds: Int
    let serviceKey: String?
    let reader: RequestReader
    let failures: StoreFailures
    let metrics: GateMetrics

    func add(to router: Router<BasicRequestContext>) {
        // Checkout's own health for the rate tuner (RateController): strictly read; a bad report is a 400 and
        // changes nothing. The key is checked here, not by a group middleware: the path is under the public
        // `/v1/rooms` routes.
        router.post("/v1/rooms/:room/health") { request, context in
            try BearerKeyMiddleware<BasicRequestContext>.check(request, key: self.serviceKey)
            let room = try RequestReader.roomName(context)
            let health: CheckoutHealth
            do {
                health = try CheckoutHealth(json: try await self.reader.jsonObject(request))
            } catch let problem as CheckoutHealth.Problem {
                let code = problem.reason == "unknown field" ? "unknown_field" : "invalid_\(problem.field)"
                throw APIError.badRequest("\(problem.field): \(problem.reason)", code: code)
            }
            let recorded: Bool
            do { recorded = try await self.store.recordHealth(room: room, health) } catch { throw self.failures.response(for: error) }
            guard recorded else { throw APIError.notFound("no such room") }
            return Response(status: .noContent)
        }
        let service = router.group("/v1/admissions").add(middleware: BearerKeyMiddleware(key: serviceKey))
        // Verify checks the signature and also asks Redis whether the admission already ended, so a
        // released or consumed token is refused (409 with the reason); offline verification cannot know.
        service.post("/verify") { request, _ in
            let claims = try self.token(in: try await self.reader.jsonObject(request))
            let end: AdmissionEnd?
            do {
                end = try await self.store.admissionEnd(room: claims.aud, jti: claims.jti, ticketID: claims.ticketID)
            } catch {
                throw self.failures.response(for: error)
            }
            if let end { throw APIError.admissionEnded(end) }
            return try Responses.encode(claims)
        }
        // Single use. With an `idempotencyKey` (the order's id), the same key again answers 200 as well: an
        // order service that retries after a timeout or a 503 learns its own consume went through, while any
        // other consume of the token — another key, or none — is refused.
        service.post("/consume") { request, _ in
            let object = try await self.reader.jsonObject(request)
            let claims = try self.token(in: object)
            let key = try Self.idempotencyKey(in: object)
            let result: RoomStore.ConsumeResult
            do {
                result = try await self.store.consume(
                    room: claims.aud, jti: claims.jti, ticketID: claims.ticketID, expiresAtMs: claims.exp * 1000, idempotencyKey: key)
            } catch {
                throw self.failures.response(for: error)
            }
            switch result {
            case .consumed: self.metrics.consumes.increment()
            case .consumedBefore: break  // the same consume again: counted once
            case .alreadyUsed: throw APIError.admissionEnded(.consumed)
            case .released: throw APIError.admissionEnded(.released)
            }
            return try Responses.encode(claims)
        }
        service.post("/release") { request, _ in
            let claims = try self.token(in: try await self.reader.jsonObject(request), allowExpired: true)
            do {
                if try await self.store.release(room: claims.aud, jti: claims.jti, ticketID: claims.ticketID) { self.metrics.releases.increment() }
            } catch {
                throw self.failures.response(for: error)
            }
            return Response(status: .noContent)
        }
    }

    /// `idempotencyKey`, when given: 1–128 visible ASCII characters.
    static func idempotencyKey(in object: [String: JSONValue]) throws -> String? {
        guard let value = object["idempotencyKey"] else { return nil }
        guard case .string(let key) = value, (1...128).contains(key.utf8.count), key.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw APIError.badRequest("idempotencyKey: 1 to 128 visible ASCII characters", code: "invalid_idempotency_key")
        }
        return key
    }

    /// Reads `{"token": "..."}` and verifies the token with the gate's keys.
    private func token(in object: [String: JSONValue], allowExpired: Bool = false) throws -> AdmissionClaims {
        guard case .string(let token)? = object["token"] else { throw APIError.badRequest("token: required string", code: "invalid_token_field") }
        do {
            // A release may come after the token expired (an abandoned checkout); it still frees nothing
            // twice, so expiry is not held against it (an infinite leeway).
            let claims = try keys.verify(token, as: AdmissionClaims.self, now: Date(), leeway: allowExpired ? .infinity : TimeInterval(leewaySeconds))
            guard claims.iss == issuer else { throw TokenError.wrongIssuer(claims.iss) }
            return claims
        } catch let error as TokenError {
            switch error {
            case .expired: throw APIError(.forbidden, "token_expired", "the admission token has expired")
            default: throw APIError.unauthorized("the admission token is not valid: \(error)", code: "invalid_token")
            }
        }
    }
}
