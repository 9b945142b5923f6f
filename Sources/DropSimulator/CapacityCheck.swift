import Foundation
import WaitingRoomCore

/// The README's capacity plan held against a measured drop. The plan is a model: polls from the poll
/// policy at each moment's queue (``PollPolicy/expectedPollsPerSecond(waiting:admissionRate:claimWindowSeconds:)``),
/// gate CPU from per-request costs measured on one release gate with `wrk`. The drop measures what really
/// happened with several gates on one Redis; the ratios say how close the model came.
public struct CapacityCheck: Codable, Sendable, Equatable {
    /// The plan's per-request costs: a gate's own CPU for a status poll and for a join (claims, consume and
    /// release are priced as joins: one script each), from `scripts/gate-cpu.sh` paced on this repository's
    /// 2-core machine. Machine-specific: measure yours and pass them to `bench drop --model-poll-us/-request-us`.
    public static let planMicrosecondsPerPoll = 200.0
    public static let planMicrosecondsPerRequest = 235.0

    public var gates: Int
    public var microsecondsPerPoll: Double
    public var microsecondsPerRequest: Double
    public var predictedPolls: Double
    public var measuredPolls: Int
    /// Status polls a second, at the busiest second: the model's and the drop's.
    public var predictedPeakPollsPerSecond: Double
    public var measuredPeakPollsPerSecond: Double
    /// Joins, claims and the order service's calls: each costs one script, priced as a join.
    public var measuredOtherRequests: Int
    /// Per-request CPU (the plan's costs) plus the gates' own background work (refresh ticks, heartbeats),
    /// measured on the idle gates before the drop and scaled to its duration. The plan counts only the first.
    public var predictedGateCPUSeconds: Double
    /// The same with the model's polls instead of the measured ones: the plan's whole chain, as its table uses it.
    public var modelledGateCPUSeconds: Double
    public var gateIdleCPUSeconds: Double
    public var measuredGateCPUSeconds: Double?
    /// Redis's own CPU over the drop (every primary's `used_cpu_user + used_cpu_sys`), and what share of one
    /// core that was on average.
    public var redisCPUSeconds: Double?
    public var redisCoreShare: Double?
    /// Redis CPU above what it used while the gates idled before the drop, per shopper admitted: what grows
    /// with a drop's size (scripts for joins, claims, consume, release; the idle share is ticks and sampling).
    public var redisBusyMicrosecondsPerAdmission: Double?
    /// The shoppers followed the room board: waiting shoppers send no status polls, so the poll model does not
    /// apply (the report's requests by route say what reached the gates).
    public var boardMode: Bool?

    public var pollRatio: Double { measuredPolls > 0 ? Double(measuredPolls) / predictedPolls : 0 }
    public var gateCPURatio: Double? { measuredGateCPUSeconds.map { predictedGateCPUSeconds > 0 ? $0 / predictedGateCPUSeconds : 0 } }
    public var modelledGateCPURatio: Double? { measuredGateCPUSeconds.map { modelledGateCPUSeconds > 0 ? $0 / modelledGateCPUSeconds : 0 } }

    /// - Parameters:
    ///   - samples: the drop's once-a-second samples with `waiting` and `offered` (Redis `tail − head`, `head`).
    ///   - pollTimes: when each status poll was sent (seconds since the start).
    ///   - rateWindow: seconds over which the offer rate is measured from `offered`.
    public init(
        gates: Int, samples: [DropSample], claimWindowSeconds: Int, pollTimes: [Double], otherRequests: Int,
        gateCPUSeconds: Double?, gateIdleCoreShare: Double = 0, redisCPUSeconds: Double?, redisIdleCoreShare: Double = 0,
        admitted: Int = 0, durationSeconds: Double, microsecondsPerPoll: Double = planMicrosecondsPerPoll,
        microsecondsPerRequest: Double = planMicrosecondsPerRequest, policy: PollPolicy = PollPolicy(), rateWindow: Int = 5
    ) {
        self.gates = gates
        self.microsecondsPerPoll = microsecondsPerPoll
        self.microsecondsPerRequest = microsecondsPerRequest
        var predicted = 0.0
        var peak = 0.0
        for index in samples.indices.dropFirst() {
            let sample = samples[index]
            let earlier = samples[max(0, index - rateWindow)]
            guard let waiting = sample.waiting, let offered = sample.offered, let offeredBefore = earlier.offered, sample.t > earlier.t else { continue }
            let rate = Double(offered - offeredBefore) / (sample.t - earlier.t)
            let polls = policy.expectedPollsPerSecond(waiting: Double(waiting), admissionRate: rate, claimWindowSeconds: claimWindowSeconds)
            predicted += polls * (sample.t - samples[index - 1].t)
            peak = max(peak, polls)
        }
        predictedPolls = predicted
        predictedPeakPollsPerSecond = peak
        measuredPolls = pollTimes.count
        var perSecond: [Int: Int] = [:]
        for time in pollTimes { perSecond[Int(time), default: 0] += 1 }
        measuredPeakPollsPerSecond = Double(perSecond.values.max() ?? 0)
        measuredOtherRequests = otherRequests
        gateIdleCPUSeconds = gateIdleCoreShare * durationSeconds
        let otherCPUSeconds = Double(otherRequests) * microsecondsPerRequest / 1_000_000 + gateIdleCPUSeconds
        predictedGateCPUSeconds = Double(pollTimes.count) * microsecondsPerPoll / 1_000_000 + otherCPUSeconds
        modelledGateCPUSeconds = predicted * microsecondsPerPoll / 1_000_000 + otherCPUSeconds
        measuredGateCPUSeconds = gateCPUSeconds
        self.redisCPUSeconds = redisCPUSeconds
        redisCoreShare = redisCPUSeconds.map { durationSeconds > 0 ? $0 / durationSeconds : 0 }
        redisBusyMicrosecondsPerAdmission = redisCPUSeconds.flatMap { cpu in
            admitted > 0 ? max(0, cpu - redisIdleCoreShare * durationSeconds) / Double(admitted) * 1_000_000 : nil
        }
    }

    var summary: [String] {
        var lines = ["  capacity plan vs this drop (\(gates) gate\(gates == 1 ? "" : "s") on one Redis):"]
        if boardMode == true {
            lines.append(String(format: "    board mode: no status polls while waiting (the poll model does not apply); %d status calls at shoppers' turns", measuredPolls))
        } else {
            lines.append(String(format: "    status polls: model %.0f, measured %d (%.2f×); busiest second: model %.0f/s, measured %.0f/s",
                                predictedPolls, measuredPolls, pollRatio, predictedPeakPollsPerSecond, measuredPeakPollsPerSecond))
        }
        if boardMode == true, let measured = measuredGateCPUSeconds {
            lines.append(String(format: "    gate CPU: measured %.1f s over all gates (%.1f s of it their idle work: ticks, heartbeats)", measured, gateIdleCPUSeconds))
        }
        if let measured = measuredGateCPUSeconds, let ratio = gateCPURatio, boardMode != true {
            lines.append(String(
                format: "    gate CPU: model %.1f s (%.0f µs/poll, %.0f µs/other request, + %.1f s idle work), measured %.1f s over all gates (%.2f×)",
                predictedGateCPUSeconds, microsecondsPerPoll, microsecondsPerRequest, gateIdleCPUSeconds, measured, ratio))
            lines.append(String(format: "    gate CPU from the modelled polls (the plan's whole chain): %.1f s, measured %.1f s (%.2f×)",
                                modelledGateCPUSeconds, measured, modelledGateCPURatio ?? 0))
        }
        if let redis = redisCPUSeconds, let share = redisCoreShare {
            lines.append(String(format: "    Redis CPU: %.1f s, %.1f%% of one core on average", redis, share * 100)
                + (redisBusyMicrosecondsPerAdmission.map { String(format: "; %.0f µs per admitted shopper above idle", $0) } ?? ""))
        }
        return lines
    }
}
