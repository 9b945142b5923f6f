import Foundation
import Hummingbird
import WaitingRoomCore
import WaitingRoomTokens

/// The order service's API under `/v1/admissions`, authenticated with the service key.
extension Gate {
    func addServiceRoutes(to router: Router<BasicRequestContext>) {
        let service = router.group("/v1/admissions")
        service.post("/verify") { request, _ in
            let claims = try await self.serviceToken(request)
            return try Self.encode(claims)
        }
        service.post("/consume") { request, _ in
            let claims = try await self.serviceToken(request)
            let first: Bool
            do {
                first = try await self.store.consume(room: claims.aud, jti: claims.jti, expiresAtMs: claims.exp * 1000)
            } catch {
                throw self.storeFailure(error)
            }
            guard first else { throw APIError(.conflict, "already_used", "this admission token has already been used") }
            self.metrics.consumes.increment()
            return try Self.encode(claims)
        }
        service.post("/release") { request, _ in
            let claims = try await self.serviceToken(request, allowExpired: true)
            do {
                if try await self.store.release(room: claims.aud, jti: claims.jti) { self.metrics.releases.increment() }
            } catch {
                throw self.storeFailure(error)
            }
            return Response(status: .noContent)
        }
    }

    /// Checks the service key, reads `{"token": "..."}` and verifies the token with the gate's keys.
    private func serviceToken(_ request: Request, allowExpired: Bool = false) async throws -> AdmissionClaims {
        try requireKey(request, configuration.serviceKey)
        let object = try await jsonObject(request)
        guard let token = object["token"] as? String else { throw APIError.badRequest("token: required string", code: "invalid_token_field") }
        do {
            // A release may come after the token expired (an abandoned checkout); it still frees nothing
            // twice, so expiry is not held against it (an infinite leeway).
            let claims = try keys.verify(token, as: AdmissionClaims.self, now: Date(), leeway: allowExpired ? .infinity : leeway)
            guard claims.iss == configuration.issuer else { throw TokenError.wrongIssuer(claims.iss) }
            return claims
        } catch let error as TokenError {
            switch error {
            case .expired: throw APIError(.forbidden, "token_expired", "the admission token has expired")
            default: throw APIError.unauthorized("the admission token is not valid: \(error)", code: "invalid_token")
            }
        }
    }
}
