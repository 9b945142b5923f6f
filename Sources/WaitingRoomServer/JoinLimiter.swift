import Foundation
import HTTPTypes
import Hummingbird
import Synchronization
import WaitingRoomCore

/// The per-client join limit as the join route uses it: resolves the client address (through trusted
/// proxies only), takes a token from its bucket in the room's limiter, and throws `429 rate_limited` with
/// `Retry-After` when there is none. One ``JoinRateLimiter`` per room, rebuilt when the room's
/// `joinsPerClientPerMinute` changes. Thread-safe (one lock; a join holds it for a dictionary lookup).
///
/// ```swift
/// try limiter.check(request, room: room, perMinute: settings.joinsPerClientPerMinute)  // 0: no limit
/// ```
public final class JoinLimiter: Sendable {
    private let limiters: Mutex<[String: JoinRateLimiter]>
    private let maxClients: Int
    public let trustedProxies: TrustedProxies
    private let clock: @Sendable () -> Int64

    /// - Parameters:
    ///   - maxClients: clients tracked per room at most (see ``JoinRateLimiter``).
    ///   - clock: milliseconds (tests inject one).
    public init(maxClients: Int = 100_000, trustedProxies: TrustedProxies,
                clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1_000) }) {
        limiters = Mutex([:])
        self.maxClients = maxClients
        self.trustedProxies = trustedProxies
        self.clock = clock
    }

    /// The client key of a request (see ``ClientAddress``); nil when the peer is unknown.
    public func clientKey(_ request: Request) -> String? {
        Self.clientKey(request, trustedProxies: trustedProxies)
    }

    public static func clientKey(_ request: Request, trustedProxies: TrustedProxies) -> String? {
        ClientAddress.resolve(
            peer: request.headers[ConnectionGuard.peerHeader],
            forwarded: joined(request, .forwarded),
            xForwardedFor: joined(request, .xForwardedFor),
            trusted: trustedProxies
        )?.limitKey
    }

    private static func joined(_ request: Request, _ name: HTTPField.Name) -> String? {
        let values = request.headers[values: name]
        return values.isEmpty ? nil : values.joined(separator: ",")
    }

    /// The decision for client `key` in `room` now, at `perMinute` (exposed for tests).
    public func take(_ key: String, room: String, perMinute: Int) -> JoinRateLimiter.Decision {
        guard perMinute > 0 else { return .allowed }
        let now = clock()
        return limiters.withLock { limiters in
            if limiters[room]?.perMinute != perMinute {
                limiters[room] = JoinRateLimiter(perMinute: perMinute, maxClients: maxClients)
            }
            return limiters[room]!.take(key, nowMs: now)
        }
    }

    /// Throws `429 rate_limited` with `Retry-After` when the request's client is over the room's limit.
    /// Requests whose peer is unknown (not through the gate's server) are not limited.
    public func check(_ request: Request, room: String, perMinute: Int) throws(APIError) {
        guard perMinute > 0, let key = clientKey(request) else { return }
        if case .limited(let seconds) = take(key, room: room, perMinute: perMinute) { throw Self.rateLimited(retryAfterSeconds: seconds) }
    }

    /// Forgets rooms that are gone (the refresher calls this with the rooms it sees).
    public func keep(rooms: Set<String>) {
        limiters.withLock { $0 = $0.filter { rooms.contains($0.key) } }
    }

    public static func rateLimited(retryAfterSeconds: Int) -> APIError {
        APIError(.tooManyRequests, "rate_limited", "too many joins from your network; retry in \(retryAfterSeconds) s", retryAfterSeconds: retryAfterSeconds)
    }

    public var trackedClients: Int { limiters.withLock { $0.values.reduce(0) { $0 + $1.trackedClients } } }
}

extension HTTPField.Name {
    static let forwarded = HTTPField.Name("Forwarded")!
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
}
