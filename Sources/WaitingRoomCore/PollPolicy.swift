import Foundation

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

    /// - Parameter secondsToTurn: the forecast wait; nil when nothing is being admitted (on hold).
    public func interval(secondsToTurn: Double?, claimWindowSeconds: Int, jitterSeed: UInt64) -> Int {
        let ceiling = min(maximumMs, max(minimumMs, claimWindowSeconds * 1000 * 10 / 22))
        guard let secondsToTurn, secondsToTurn.isFinite else { return jittered(min(ceiling, 5_000), seed: jitterSeed) }
        // Clamp in Double before converting: a far-off turn must not overflow Int.
        let wanted = min(max(secondsToTurn * 1000 / pollsBeforeTurn, Double(minimumMs)), Double(ceiling))
        return jittered(Int(wanted), seed: jitterSeed)
    }

    public func pausedInterval(jitterSeed: UInt64) -> Int {
        jittered(min(maximumMs, 5_000), seed: jitterSeed)
    }

    /// Before opening: slow while far off, then at the minimum as the opening nears.
    public func scheduledInterval(opensInSeconds: Int, jitterSeed: UInt64) -> Int {
        let milliseconds = min(max(opensInSeconds, 0), maximumMs) * 1000 / 2
        return jittered(min(max(milliseconds, minimumMs), maximumMs), seed: jitterSeed)
    }

    /// The entry gate reserved a moment: poll again just after it.
    public func enteringInterval(waitMs: Int64) -> Int {
        Int(min(max(waitMs, 100), Int64(maximumMs)))
    }

    func jittered(_ milliseconds: Int, seed: UInt64) -> Int {
        let fraction = Double(seed % 2001) / 10_000 - 0.1  // -0.1 ... +0.1
        return max(minimumMs / 2, Int(Double(milliseconds) * (1 + fraction)))
    }

    /// A per-ticket seed for the jitter (FNV-1a of the ticket id): stable across polls, spread across shoppers.
    public static func jitterSeed(ticketID: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in ticketID.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }
}

extension PollPolicy {
    /// Polls a second that a queue makes when every shopper follows this policy (the capacity plan's poll
    /// model): `waiting` shoppers, offered at `admissionRate` a second, so the shopper at position `p` has
    /// its turn `T = p / rate` away. The last `pollsBeforeTurn × minimum` seconds of the queue poll at the
    /// minimum, the middle every `T / pollsBeforeTurn`, the far back at the ceiling. Jitter (±10 %) averages
    /// out and is ignored. With nothing admitted everyone polls at the on-hold interval.
    public func expectedPollsPerSecond(waiting: Double, admissionRate: Double, claimWindowSeconds: Int) -> Double {
        guard waiting > 0 else { return 0 }
        let ceiling = Double(min(maximumMs, max(minimumMs, claimWindowSeconds * 1000 * 10 / 22))) / 1000
        let minimum = Double(minimumMs) / 1000
        guard admissionRate > 0 else { return waiting / min(ceiling, 5) }
        let k = pollsBeforeTurn
        let lastTurn = waiting / admissionRate
        // Density: `rate` shoppers per second of T; each polls once per interval(T).
        var polls = admissionRate * min(lastTurn, k * minimum) / minimum
        if lastTurn > k * minimum { polls += admissionRate * k * log(min(lastTurn, k * ceiling) / (k * minimum)) }
        if lastTurn > k * ceiling { polls += admissionRate * (lastTurn - k * ceiling) / ceiling }
        return polls
    }
}
