/// How often pages should read a room's board, from how many reach this gate.
///
/// Behind a shared cache a gate sees about one board read a second per cache node, whatever the crowd;
/// without one it sees every page's reads. Reads per second × the interval pages were told is how many pages
/// read this gate directly; once that passes `readsPerSecond` (the budget per room per gate), the interval
/// stretches so that together they stay within it — up to the poll ceiling the board caps it at (see
/// ``RoomBoard/readInterval(_:claimWindowSeconds:)``): without a cache the board then costs what status polls
/// cost, with one it costs nothing and pages read every `configuredMs`. Each second it moves halfway (in ratio)
/// to what the reads ask for, and shrinks by at most 30%, so pages adopting a new interval do not make it swing.
public struct BoardPacing: Sendable, Equatable {
    public let configuredMs: Int
    public let readsPerSecond: Double
    /// The interval the board publishes now.
    public private(set) var intervalMs: Int
    private var windowStart: ContinuousClock.Instant?
    /// The interval pages were told when this window of reads began.
    private var windowIntervalMs: Int
    private var reads = 0

    public init(configuredMs: Int, readsPerSecond: Double) {
        self.configuredMs = configuredMs
        self.readsPerSecond = max(1, readsPerSecond)
        intervalMs = configuredMs
        windowIntervalMs = configuredMs
    }

    /// Counts one read at `now`; once a second of reads has been seen, re-derives the interval, never past
    /// `ceilingMs` (the board's own cap for the room) nor under the configured one.
    public mutating func read(at now: ContinuousClock.Instant, ceilingMs: Int) {
        reads += 1
        guard let start = windowStart else {
            windowStart = now
            return
        }
        let elapsed = now - start
        guard elapsed >= .seconds(1) else { return }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let readers = Double(reads) / seconds * Double(windowIntervalMs) / 1000
        let wanted = max(Double(configuredMs), readers / readsPerSecond * 1000)
        // Halfway there (in ratio): pages take up a new interval only at their next read, so a full step on
        // reads still at the old pace would overshoot and swing.
        let next = max((Double(intervalMs) * wanted).squareRoot(), Double(intervalMs) * 0.7)
        intervalMs = max(configuredMs, min(Int(next.rounded()), max(ceilingMs, configuredMs)))
        windowStart = now
        windowIntervalMs = intervalMs
        reads = 0
    }
}
