/// An honest ETA: a range in seconds, not a false-precise number.
public struct ETARange: Codable, Sendable, Equatable {
    public var low: Int
    public var high: Int

    public init(low: Int, high: Int) {
        self.low = low
        self.high = high
    }

    /// The time for `position` people ahead to be admitted at `ratePerSecond`, widened by ±25% for the rate
    /// drifting (ops changes, show-up compensation). Nil when nothing is being admitted.
    public static func estimate(position: Int64, ratePerSecond: Double) -> ETARange? {
        guard ratePerSecond > 0, ratePerSecond.isFinite else { return nil }
        let expected = Double(position + 1) / ratePerSecond
        return ETARange(low: Int((expected / 1.25).rounded(.down)), high: Int((expected * 1.25).rounded(.up)))
    }
}
