/// What a poll should answer, decided from a ticket and a cached snapshot alone (no I/O).
public enum ShopperStatus: Sendable, Equatable {
    /// In line: `position` people ahead.
    case waiting(position: Int64, eta: ETARange?, pollAfterMs: Int)
    /// Before opening: the place is drawn by lottery at `opensAt`.
    case scheduled(opensInSeconds: Int, pollAfterMs: Int)
    case paused(position: Int64, pollAfterMs: Int)
    case closed
    /// The shopper's turn has come (or came): the server must claim for them (one Redis call, idempotent).
    case claim(effectivePosition: Int64)

    /// Decides the answer for `ticket` (already verified for this room and epoch).
    ///
    /// - Parameters:
    ///   - admissionRate: measured offers per second, for the ETA (falls back to the target rate).
    ///   - nowMs: the caller's clock, for scheduled countdowns.
    public static func decide(
        seq: Int64,
        jitterSeed: UInt64,
        snapshot: RoomSnapshot,
        admissionRate: Double?,
        nowMs: Int64,
        policy: PollPolicy = PollPolicy()
    ) -> ShopperStatus {
        if snapshot.state == .scheduled {
            let opensAtMs = snapshot.settings.opensAt.map { Int64($0.timeIntervalSince1970 * 1000) } ?? nowMs
            let seconds = Int(max(0, (opensAtMs - nowMs + 999) / 1000))
            return .scheduled(opensInSeconds: seconds, pollAfterMs: policy.scheduledInterval(opensInSeconds: seconds, jitterSeed: jitterSeed))
        }
        let effective = snapshot.effectivePosition(ofSeq: seq)
        if effective <= snapshot.head { return .claim(effectivePosition: effective) }
        let position = effective - snapshot.head - 1
        switch snapshot.state {
        case .closed:
            return .closed
        case .paused:
            return .paused(position: position, pollAfterMs: policy.pausedInterval(jitterSeed: jitterSeed))
        case .open, .scheduled:
            let rate = admissionRate.flatMap { $0 > 0 ? $0 : nil } ?? snapshot.offerRate
            return .waiting(
                position: position,
                eta: ETARange.estimate(position: position, ratePerSecond: rate),
                pollAfterMs: policy.interval(position: position, ratePerSecond: rate, claimWindowSeconds: snapshot.settings.claimWindowSeconds, jitterSeed: jitterSeed)
            )
        }
    }
}
