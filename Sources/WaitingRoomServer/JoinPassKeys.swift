import Foundation
import HTTPTypes
import Hummingbird
import Synchronization
import WaitingRoomTokens

/// Join passes as the join route checks them: the pass from `X-Waitroom-Join-Pass` (or the body's `pass`),
/// verified with the room's `joinPassSecret`. The HS256 key is set up once per room and secret.
final class JoinPassKeys: Sendable {
    private let keys = Mutex<[String: (secret: String, key: JoinPass.Key)]>([:])

    static let header = HTTPField.Name("X-Waitroom-Join-Pass")!

    /// The verified pass, or the 403 that says why not (`join_pass_required`, `join_pass_invalid`).
    func verify(_ text: String?, room: String, secret: String, nowSeconds: Int64) throws(APIError) -> JoinPass {
        guard let text, !text.isEmpty else {
            throw APIError(.forbidden, "join_pass_required", "this drop needs a pass from the shop: sign in at the shop to join")
        }
        guard let key = key(room: room, secret: secret) else {
            throw APIError(.forbidden, "join_pass_invalid", "this room has no join pass key")
        }
        do {
            return try key.verify(text, room: room, nowSeconds: nowSeconds)
        } catch {
            throw APIError(.forbidden, "join_pass_invalid", "the join pass is not valid: \(error.description)")
        }
    }

    private func key(room: String, secret: String) -> JoinPass.Key? {
        if let cached = keys.withLock({ $0[room] }), cached.secret == secret { return cached.key }
        guard let key = try? JoinPass.Key(secret: secret) else { return nil }
        keys.withLock { $0[room] = (secret, key) }
        return key
    }
}
