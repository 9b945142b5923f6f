import Foundation
import HTTPTypes
import Hummingbird
import Synchronization
import WaitingRoomCore

/// The per-client join limit as the join route uses it: resolves the client address (through trusted
/// proxies only), takes a token from its bucket, and throws `429 rate_limited` with `Retry-After` when
/// there is none. Thread-safe (one lock around the pure ``JoinRateLimiter``; a join holds it for a
/// dictionary lookup).
///
/// ```swift
/// try gate.joinLimiter?.check(request)   // before a new place is handed out; rejoins with a valid ticket skip it
/// ```
public final class JoinLimiter: Sendable {
    private let limiter: Mutex<JoinRateLimiter>
    public let trustedProxies: TrustedProxies
    private let clock: @Sendable () -> Int64

    /// - Parameters:
    ///   - perMinute: new places per client per minute (the room's `joinsPerClientPerMinute`).
    ///   - burst: bucket size (default: `perMinute`).
    ///   - clock: milliseconds (tests inject one).
    public init(perMinute: Int, burst: Int? = nil, maxClients: Int = 100_000, trustedProxies: TrustedProxies,
                clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1_000) }) {
        limiter = Mutex(JoinRateLimiter(perMinute: perMinute, burst: burst, maxClients: maxClients))
        self.trustedProxies = trustedProxies
        self.clock = clock
    }

    /// From the configuration; nil when the limit is off.
    public convenience init?(_ limits: HardeningConfiguration) {
        guard limits.joinsPerClientPerMinute > 0 else { return nil }
        self.init(perMinute: limits.joinsPerClientPerMinute, trustedProxies: limits.trustedProxies)
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

    /// The decision for `key` now (exposed for tests and other routes).
    public func take(_ key: String) -> JoinRateLimiter.Decision {
        let now = clock()
        return limiter.withLock { $0.take(key, nowMs: now) }
    }

    /// Throws `429 rate_limited` with `Retry-After` when the request's client is over its limit.
    /// Requests whose peer is unknown (not through the gate's server) are not limited.
    public func check(_ request: Request) throws(APIError) {
        guard let key = clientKey(request) else { return }
        if case .limited(let seconds) = take(key) { throw Self.rateLimited(retryAfterSeconds: seconds) }
    }

    public static func rateLimited(retryAfterSeconds: Int) -> APIError {
        APIError(.tooManyRequests, "rate_limited", "too many joins from your network; retry in \(retryAfterSeconds) s", retryAfterSeconds: retryAfterSeconds)
    }

    public var trackedClients: Int { limiter.withLock { $0.trackedClients } }
}

extension HTTPField.Name {
    static let forwarded = HTTPField.Name("Forwarded")!
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
}
