/// Proof-of-work challenges already used, until they expire: a bounded set with expiry, so one solved
/// challenge buys one join (per instance; a challenge also expires within a minute, which bounds reuse
/// across instances). Pure value with an injected clock.
public struct SpentChallenges: Sendable {
    public let capacity: Int
    private var expiries: [String: Int64] = [:]

    public init(capacity: Int = 200_000) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    public var count: Int { expiries.count }

    /// Records `id` as spent until `expiresAtMs`; false when it was already spent (a replay) or when the
    /// set is full of unexpired entries (refusing is the safe side: the client asks for a new challenge).
    public mutating func spend(_ id: String, expiresAtMs: Int64, nowMs: Int64) -> Bool {
        if let expiry = expiries[id], expiry > nowMs { return false }
        if expiries.count >= capacity {
            expiries = expiries.filter { $0.value > nowMs }
            guard expiries.count < capacity else { return false }
        }
        expiries[id] = expiresAtMs
        return true
    }
}
