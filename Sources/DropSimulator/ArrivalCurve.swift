/// When simulated shoppers arrive, as offsets in seconds from the start of the drop.
public enum ArrivalCurve: Sendable, Equatable {
    /// `fraction` of the shoppers arrive evenly within the first `seconds`, the rest evenly over `tailSeconds` after.
    case spike(fraction: Double, seconds: Double, tailSeconds: Double)
    /// Everyone arrives evenly over `seconds`.
    case uniform(seconds: Double)

    /// Arrival offsets for `count` shoppers, in arrival order (deterministic: the same inputs give the same plan).
    public func offsets(count: Int) -> [Double] {
        guard count > 0 else { return [] }
        switch self {
        case .uniform(let seconds):
            return (0..<count).map { Double($0) * seconds / Double(count) }
        case .spike(let fraction, let seconds, let tailSeconds):
            let early = Int((Double(count) * fraction).rounded())
            let late = count - early
            let head = (0..<early).map { Double($0) * seconds / Double(max(early, 1)) }
            let tail = (0..<late).map { seconds + Double($0) * tailSeconds / Double(max(late, 1)) }
            return head + tail
        }
    }

    /// Parses `spike`, `spike:0.8:60:60`, `uniform:120`.
    public init?(_ text: String) {
        let parts = text.split(separator: ":").map(String.init)
        switch parts.first {
        case "spike":
            let numbers = parts.dropFirst().compactMap(Double.init)
            guard numbers.count == parts.count - 1 else { return nil }
            let fraction = numbers.count > 0 ? numbers[0] : 0.8
            guard (0...1).contains(fraction) else { return nil }
            self = .spike(fraction: fraction, seconds: numbers.count > 1 ? numbers[1] : 60, tailSeconds: numbers.count > 2 ? numbers[2] : 60)
        case "uniform":
            guard parts.count == 2, let seconds = Double(parts[1]), seconds >= 0 else { return nil }
            self = .uniform(seconds: seconds)
        default:
            return nil
        }
    }
}
