/// The rate after opening when a ramp is configured: linear from the start rate to the target.
///
/// The admission script in Redis applies the same rule; this is the reference the tests and dashboard use.
public enum RateRamp {
    public static func rate(target: Double, startRate: Double?, rampSeconds: Int?, secondsSinceOpening: Double) -> Double {
        guard let rampSeconds, rampSeconds > 0, secondsSinceOpening < Double(rampSeconds) else { return target }
        let start = startRate ?? target / 10
        let fraction = max(0, secondsSinceOpening) / Double(rampSeconds)
        return start + (target - start) * fraction
    }
}
