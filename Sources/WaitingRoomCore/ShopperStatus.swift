/// What a poll should answer, decided from a ticket and a cached snapshot alone (no I/O).
public enum ShopperStatus: Sendable, Equatable {
    /// In line: `position` people ahead. `eta` is nil, and `onHold` true, while nothing is being admitted
    /// (rate 0, or capacity full with no slot coming free).
    case waiting(position: Int64, eta: ETARange?, onHold: Bool, pollAfterMs: Int)
    /// Before opening: the place is drawn by lottery at `opensAt`.
    case scheduled(opensInSeconds: Int, pollAfterMs: Int)
    case paused(position: Int64, pollAfterMs: Int)
    case closed
    /// The shopper's turn has come (or came): the server must claim for them (one Redis call, idempotent).
    case claim(effectivePosition: Int64)

    /// Decides the answer for `ticket` (already verified for this room and epoch).
    ///
    /// - Parameters:
    ///   - slotsFreeingPerSecond: when capacity binds, the measured rate at which slots come free (nil
    ///     until measured: the model's own rate is used meanwhile).
    ///   - nowMs: the caller's clock, for scheduled countdowns.
    public static func decide(
        seq: Int64,
        jitterSeed: UInt64,
        snapshot: RoomSnapshot,
        slotsFreeingPerSecond: Double? = nil,
        nowMs: Int64,
        policy: PollPolicy = PollPolicy()
    ) -> ShopperStatus {
        if snapshot.state == .scheduled {
            let opensAtMs = snapshot.settings.opensAtMs > 0 ? snapshot.settings.opensAtMs : nowMs
            let seconds = Int(min(max(0, opensAtMs.subtractingClamped(nowMs) / 1000 + 1), Int64(Int32.max)))
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
            let slots = snapshot.capacityBinds ? slotsFreeingPerSecond : nil
            let seconds = AdmissionForecast.secondsToOffer(
                position + 1, settings: snapshot.settings, openedAtMs: snapshot.openedAtMs, nowMs: snapshot.redisNowMs,
                showUp: snapshot.showUpRatio, slotsFreeingPerSecond: slots
            )
            return .waiting(
                position: position,
                eta: seconds.map { ETARange.around(expectedSeconds: $0, basis: slots == nil ? .model : .measured) },
                onHold: seconds == nil,
                pollAfterMs: policy.interval(secondsToTurn: seconds, claimWindowSeconds: snapshot.settings.claimWindowSeconds, jitterSeed: jitterSeed)
            )
        }
    }
}

extension Int64 {
    /// `self - other`, saturating instead of trapping (clocks and places may come from signed input).
    public func subtractingClamped(_ other: Int64) -> Int64 {
        let (value, overflow) = subtractingReportingOverflow(other)
        return overflow ? (other > 0 ? .min : .max) : value
    }
}
