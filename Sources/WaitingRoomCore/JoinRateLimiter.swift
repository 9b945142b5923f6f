/// Per-client token buckets for joins: each client key (see ``ClientAddress/Resolved/limitKey``) may take
/// `perMinute` new places a minute, with bursts up to `burst`. Pure value with an injected clock.
///
/// Memory is bounded: a bucket that has refilled completely is the same as no bucket, so such buckets are
/// dropped when the table is swept; and the table never holds more than `maxClients` keys (when every
/// tracked client is still active, the least recently seen tenth are dropped: they get a fresh bucket, a
/// small gift compared with an unbounded table).
///
/// ```swift
/// var limiter = JoinRateLimiter(perMinute: 60, burst: 60)
/// switch limiter.take("203.0.113.9", nowMs: now) {
/// case .allowed: ...
/// case .limited(let retryAfterSeconds): ...   // 429 with Retry-After
/// }
/// ```
public struct JoinRateLimiter: Sendable {
    /// Chosen for carrier-grade NAT: one public IPv4 address can front hundreds of mobile subscribers, and
    /// a drop concentrates their joins into the first minute. 60 new places a minute per address (a burst
    /// of 60, then one a second) lets 60 shoppers behind one address in through the first minute with no
    /// wait at all and everyone after that at a second apart, while a bot on that address goes from
    /// ~25,000 joins/s to 1/s. Rejoins with a valid ticket never count.
    public static let defaultPerMinute = 60

    public enum Decision: Sendable, Equatable {
        case allowed
        /// Whole seconds until the client's next token (at least 1).
        case limited(retryAfterSeconds: Int)
    }

    public let perMinute: Int
    public let burst: Int
    public let maxClients: Int
    private var buckets: [String: Bucket] = [:]
    private var operationsSinceSweep = 0

    struct Bucket: Sendable {
        var tokens: Double
        var updatedMs: Int64
    }

    /// - Parameters:
    ///   - perMinute: sustained new places per client per minute (> 0).
    ///   - burst: bucket size; defaults to `perMinute` (a minute's worth at once).
    ///   - maxClients: hard cap on tracked clients.
    public init(perMinute: Int, burst: Int? = nil, maxClients: Int = 100_000) {
        precondition(perMinute > 0 && maxClients > 0)
        self.perMinute = perMinute
        self.burst = max(1, burst ?? perMinute)
        self.maxClients = maxClients
    }

    /// Clients tracked now (for tests and metrics).
    public var trackedClients: Int { buckets.count }

    private var tokensPerMs: Double { Double(perMinute) / 60_000 }
    /// How long an empty bucket takes to fill: after that an idle client's bucket is worth nothing.
    private var refillMs: Int64 { Int64((Double(burst) / tokensPerMs).rounded(.up)) }

    /// Takes one token for `client` at `nowMs`, or says how long until one is available.
    public mutating func take(_ client: String, nowMs: Int64) -> Decision {
        operationsSinceSweep += 1
        if operationsSinceSweep >= max(1_024, maxClients / 4) { sweep(nowMs: nowMs) }
        var bucket = buckets[client] ?? Bucket(tokens: Double(burst), updatedMs: nowMs)
        if bucket.updatedMs < nowMs {
            bucket.tokens = min(Double(burst), bucket.tokens + Double(nowMs - bucket.updatedMs) * tokensPerMs)
            bucket.updatedMs = nowMs
        }
        guard bucket.tokens >= 1 else {
            if buckets[client] == nil { insert(client, bucket, nowMs: nowMs) } else { buckets[client] = bucket }
            let waitMs = (1 - bucket.tokens) / tokensPerMs
            return .limited(retryAfterSeconds: max(1, Int((waitMs / 1_000).rounded(.up))))
        }
        bucket.tokens -= 1
        if buckets[client] == nil { insert(client, bucket, nowMs: nowMs) } else { buckets[client] = bucket }
        return .allowed
    }

    private mutating func insert(_ client: String, _ bucket: Bucket, nowMs: Int64) {
        if buckets.count >= maxClients {
            sweep(nowMs: nowMs)
            if buckets.count >= maxClients {
                // Everyone tracked is active: drop the least recently seen tenth.
                let drop = max(1, maxClients / 10)
                for (key, _) in buckets.sorted(by: { $0.value.updatedMs < $1.value.updatedMs }).prefix(drop) {
                    buckets[key] = nil
                }
            }
        }
        buckets[client] = bucket
    }

    /// Drops buckets that would be full by now (they carry no information).
    public mutating func sweep(nowMs: Int64) {
        operationsSinceSweep = 0
        let refill = refillMs
        buckets = buckets.filter { nowMs - $0.value.updatedMs < refill }
    }
}
