/// How long a browser should wait before polling again.
///
/// Far back in the queue it polls rarely; near the front, often. The interval is never more than half the
/// claim window (jitter included), so even a shopper offered right after a poll — say because ops raised the
/// rate — polls again, and claims, before the offer lapses.
/// A per-shopper jitter of ±10% spreads polls so they do not arrive in waves.
public struct PollPolicy: Sendable, Equatable {
    public var minimumMs: Int
    public var maximumMs: Int
    /// Aim to poll this many times before the shopper's expected turn.
    public var pollsBeforeTurn: Double

    public init(minimumMs: Int = 1_000, maximumMs: Int = 30_000, pollsBeforeTurn: Double = 3) {
        self.minimumMs = minimumMs
        self.maximumMs = maximumMs
        self.pollsBeforeTurn = pollsBeforeTurn
    }

    public func interval(position: Int64, ratePerSecond: Double, claimWindowSeconds: Int, jitterSeed: UInt64) -> Int {
        let secondsToTurn = ratePerSecond > 0 ? Double(position) / ratePerSecond : Double(maximumMs) / 1000
        var milliseconds = Int(secondsToTurn * 1000 / pollsBeforeTurn)
        milliseconds = min(max(milliseconds, minimumMs), maximumMs, max(minimumMs, claimWindowSeconds * 1000 * 10 / 22))
        return jittered(milliseconds, seed: jitterSeed)
    }

    public func pausedInterval(jitterSeed: UInt64) -> Int {
        jittered(min(maximumMs, 5_000), seed: jitterSeed)
    }

    /// Before opening: slow while far off, then at the minimum as the opening nears.
    public func scheduledInterval(opensInSeconds: Int, jitterSeed: UInt64) -> Int {
        let milliseconds = min(max(opensInSeconds * 1000 / 2, minimumMs), maximumMs)
        return jittered(milliseconds, seed: jitterSeed)
    }

    private func jittered(_ milliseconds: Int, seed: UInt64) -> Int {
        let fraction = Double(seed % 2001) / 10_000 - 0.1  // -0.1 ... +0.1
        return max(minimumMs / 2, Int(Double(milliseconds) * (1 + fraction)))
    }
}
