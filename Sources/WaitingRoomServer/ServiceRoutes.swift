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
        let service = router.group("/v1/admissions").add(middleware: BearerKeyMiddleware(key: serviceKey))
        service.post("/verify") { request, _ in
            try Responses.encode(try await self.token(request))
        }
        service.post("/consume") { request, _ in
            let claims = try await self.token(request)
            let first: Bool
            do {
                first = try await self.store.consume(room: claims.aud, jti: claims.jti, expiresAtMs: claims.exp * 1000)
            } catch {
                throw self.failures.response(for: error)
            }
            guard first else { throw APIError(.conflict, "already_used", "this admission token has already been used") }
            self.metrics.consumes.increment()
            return try Responses.encode(claims)
        }
        service.post("/release") { request, _ in
            let claims = try await self.token(request, allowExpired: true)
            do {
                if try await self.store.release(room: claims.aud, jti: claims.jti) { self.metrics.releases.increment() }
            } catch {
                throw self.failures.response(for: error)
            }
            return Response(status: .noContent)
        }
    }

    /// Reads `{"token": "..."}` and verifies the token with the gate's keys.
    private func token(_ request: Request, allowExpired: Bool = false) async throws -> AdmissionClaims {
        let object = try await reader.jsonObject(request)
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
