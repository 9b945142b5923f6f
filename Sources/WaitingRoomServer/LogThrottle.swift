import Synchronization

/// Lets a repeating log line through at most once per interval, and says how many were held back, so a
/// failing Redis under drop-day load writes one line a second instead of one per request.
final class LogThrottle: Sendable {
    private struct State {
        var last: ContinuousClock.Instant?
        var suppressed = 0
    }

    private let interval: Duration
    private let state = Mutex(State())

    init(interval: Duration = .seconds(1)) {
        self.interval = interval
    }

    /// `nil` when the line should be dropped; otherwise how many were dropped since the last one let through.
    func admit(now: ContinuousClock.Instant = .now) -> Int? {
        state.withLock { state in
            if let last = state.last, now - last < interval {
                state.suppressed += 1
                return nil
            }
            state.last = now
            defer { state.suppressed = 0 }
            return state.suppressed
        }
    }
}
