/// An honest ETA: a range in seconds, not a false-precise number.
public struct ETARange: Codable, Sendable, Equatable {
    public var low: Int
    public var high: Int

    /// The same range with its high end `seconds` later (a wait the shopper adds by noticing their turn late).
    public func later(bySeconds seconds: Int) -> ETARange {
        ETARange(low: low, high: high + max(0, seconds))
    }

    public init(low: Int, high: Int) {
        self.low = low
        self.high = high
    }

    /// The longest ETA worth stating (a week); beyond it the range is capped, never overflowed.
    static let maximumSeconds = 7.0 * 86_400

    /// How sure the expected wait is.
    public enum Basis: Sendable {
        /// From the model's own arithmetic (rate, ramp, show-up ratio).
        case model
        /// From a measured rate (slots coming free under a binding capacity): wider.
        case measured
    }

    /// A range around the model's expected wait. The low side allows for the show-up compensation speeding
    /// up; the high side for it slowing down, for the poll that notices the offer, and for the entry gate.
    public static func around(expectedSeconds: Double, basis: Basis = .model) -> ETARange {
        let expected = min(max(expectedSeconds.isFinite ? expectedSeconds : maximumSeconds, 0), maximumSeconds)
        let (low, high) = basis == .model ? (0.85, 1.2) : (0.7, 1.35)
        return ETARange(low: Int((expected * low).rounded(.down)), high: Int((expected * high + 3).rounded(.up)))
    }

    /// Whether `seconds` falls inside the range (the drop simulator's honesty check).
    public func contains(_ seconds: Double) -> Bool {
        Double(low) <= seconds && seconds <= Double(high)
    }
}
