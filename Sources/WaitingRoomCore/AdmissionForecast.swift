/// What the admission model will do from now on, for the ETA and the poll interval: the same rules as
/// ``AdmissionModel`` run forward (the ramp, the show-up compensation, the capacity cap), not a rate
/// measured over the past — which, right after a resume or an opening, still holds the quiet seconds.
///
/// It runs at ``RoomSettings/admissionRate``: with `autoTune`, the controller's rate that the settings of a
/// snapshot carry (``RoomSettings/effectiveRate``, read from the room hash with the settings), so any caller
/// passing `snapshot.settings` gets the forecast at the rate the gates admit at.
public enum AdmissionForecast {
    /// Seconds until `count` more shoppers have been offered admission, or nil when nothing is being
    /// admitted (rate 0, or capacity full and no slot coming free).
    ///
    /// - Parameters:
    ///   - slotsFreeingPerSecond: when capacity binds, the measured rate at which slots come free (offers
    ///     then follow it, not the rate); nil when capacity does not bind.
    public static func secondsToOffer(
        _ count: Int64, settings: RoomSettings, openedAtMs: Int64, nowMs: Int64, showUp: Double, slotsFreeingPerSecond: Double?
    ) -> Double? {
        guard count > 0 else { return 0 }
        let needed = Double(count)
        let showUp = min(max(showUp, AdmissionModel.showUpFloor), 1)
        var seconds: Double
        if let model = secondsAlongRamp(offers: needed * showUp, settings: settings, openedAtMs: openedAtMs, nowMs: nowMs) {
            seconds = model
        } else {
            return nil
        }
        if let slots = slotsFreeingPerSecond {
            guard slots > 0 else { return nil }
            seconds = max(seconds, needed / slots)
        }
        return seconds.isFinite ? seconds : nil
    }

    /// Time for the (ramped) rate to integrate to `entries`: a closed form, not a loop, so a poll far back
    /// in a long queue costs the same as one at the front.
    static func secondsAlongRamp(offers entries: Double, settings: RoomSettings, openedAtMs: Int64, nowMs: Int64) -> Double? {
        let target = settings.admissionRate  // the auto-tuned rate when the room has one
        let now = AdmissionModel.rate(settings, openedAtMs: openedAtMs, nowMs: nowMs)
        guard let ramp = settings.rampSeconds, ramp > 0, openedAtMs > 0, now != target else {
            return target > 0 ? entries / target : nil
        }
        let remaining = Double(openedAtMs + Int64(ramp) * 1_000 - nowMs) / 1_000
        guard remaining > 0 else { return target > 0 ? entries / target : nil }
        let slope = (target - now) / remaining
        let duringRamp = (now + target) / 2 * remaining
        if entries > duringRamp {
            return target > 0 ? remaining + (entries - duringRamp) / target : nil
        }
        // now·x + slope·x²/2 = entries
        if abs(slope) < 1e-12 { return now > 0 ? entries / now : nil }
        let discriminant = now * now + 2 * slope * entries
        guard discriminant >= 0 else { return nil }
        let x = (-now + discriminant.squareRoot()) / slope
        return x >= 0 && x.isFinite ? x : nil
    }
}

/// The rate at which checkout slots come free while capacity binds, measured from how `head` moved: under
/// a binding cap every offer made is a slot that came free. Written once for the gate's cache and the tests.
public enum SlotsFreeing {
    /// How far back the measurement looks: long enough to average over checkouts that end in bursts.
    public static let windowMs: Int64 = 30_000

    /// Head movement per second over the trailing samples during which capacity bound (a single unbound
    /// sample, a slot seen free between a release and the next tick, does not end the run); nil when
    /// capacity does not bind now or has bound for less than two seconds.
    public static func rate(_ samples: [(atMs: Int64, head: Int64, bound: Bool)]) -> Double? {
        guard let newest = samples.last, newest.bound else { return nil }
        var oldest = newest
        var unboundInARow = 0
        for sample in samples.reversed() {
            guard newest.atMs - sample.atMs <= windowMs else { break }
            unboundInARow = sample.bound ? 0 : unboundInARow + 1
            if unboundInARow >= 2 { break }
            if sample.bound { oldest = sample }
        }
        guard newest.atMs - oldest.atMs >= 2_000 else { return nil }
        return Double(newest.head - oldest.head) / (Double(newest.atMs - oldest.atMs) / 1000)
    }
}
