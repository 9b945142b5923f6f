import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import WaitingRoomTokens
import WaitingRoomVerifier

/// The middleware's refusals are JSON an order service can parse, whatever text the error carries.
@Suite("Admission middleware")
struct AdmissionMiddlewareTests {
    struct Context: AdmissionRequestContext {
        var coreContext: CoreRequestContextStorage
        var admission: AdmissionClaims?
        init(source: ApplicationRequestContextSource) {
            coreContext = .init(source: source)
            admission = nil
        }
    }

    /// A key source that fails with a message full of what a naive escaper gets wrong.
    struct HostileFailure: Error, CustomStringConvertible {
        var description: String { "proxy said \"no\" at C:\\keys\\jwks\nthen\u{1}\ttab" }
    }

    @Test("an error message with quotes, backslashes and control characters is still valid JSON, word for word")
    func errorBodyIsValidJSON() async throws {
        let verifier = AdmissionVerifier(fetch: { throw HostileFailure() }, issuer: "waitroom", minimumRefetchInterval: .seconds(60))
        let router = Router(context: Context.self)
        router.group("/checkout").add(middleware: AdmissionMiddleware<Context>(verifier: verifier)).get { _, _ in "in" }
        let token = try SigningKeySet(keys: [Ed25519PrivateKey()]).sign(
            AdmissionClaims(iss: "waitroom", aud: "drop", sub: "t", jti: "j", iat: 1, nbf: 1, exp: 4_000_000_000, seq: 1))
        try await Application(router: router).test(.router) { client in
            try await client.execute(uri: "/checkout", method: .get, headers: [.authorization: "Bearer \(token)"]) { response in
                #expect(response.status == .serviceUnavailable)
                let object = try #require(try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: String])
                #expect(object["error"] == "keys_unavailable")
                #expect(object["message"] == "cannot load the gate's keys: \(HostileFailure().description)")
            }
        }
    }
}
