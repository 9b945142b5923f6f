import Foundation
import Histogram

/// One point of the drop's time series (sampled once a second while it runs).
public struct DropSample: Codable, Sendable, Equatable {
    public var t: Double
    public var arrived: Int
    public var admitted: Int
    /// Joined and not yet offered admission (Redis `tail - head`), when Redis is sampled.
    public var waiting: Int?
    public var redisMemoryBytes: Int?
    /// Offers made so far (Redis `head`): its slope is the admission rate the capacity model uses.
    public var offered: Int?
    /// Failed requests so far (errors and the simulator's own deadlines): when it stops rising, the drop recovered.
    public var errors: Int?
    /// The rate the room admits at (auto-tuned: the tuner's rate) and why, when Redis is sampled.
    public var effectiveRate: Double?
    public var rateReason: String?

    public init(
        t: Double, arrived: Int, admitted: Int, waiting: Int?, redisMemoryBytes: Int?, offered: Int? = nil, errors: Int? = nil,
        effectiveRate: Double? = nil, rateReason: String? = nil
    ) {
        self.errors = errors
        self.effectiveRate = effectiveRate
        self.rateReason = rateReason
        self.t = t
        self.arrived = arrived
        self.admitted = admitted
        self.waiting = waiting
        self.redisMemoryBytes = redisMemoryBytes
        self.offered = offered
    }
}

/// The drop's results: what the summary, the JSON file and the chart show.
public struct DropReport: Codable, Sendable {
    public struct Latency: Codable, Sendable {
        public var count: Int
        public var p50Ms: Double
        public var p99Ms: Double
        public var p999Ms: Double
        public var maxMs: Double
    }

    public var shoppers: Int
    public var joined: Int
    public var admitted: Int
    public var abandoned: Int
    public var expired: Int
    public var durationSeconds: Double
    public var join: Latency
    public var status: Latency
    public var claim: Latency
    public var timeToAdmissionSeconds: Latency
    /// From arriving at the gate (before the join answered) to admission.
    public var arrivalToAdmissionSeconds: Latency
    public var errors: [String: Int]
    /// The simulator's own CPU (user + system) over the drop, and how many shoppers one of its cores carries:
    /// shopper-seconds simulated (arrival to leaving, summed) per CPU second. Set by the caller.
    public var simulatorCPUSeconds: Double?
    public var shoppersPerSimulatorCore: Double?
    /// Arrival to leaving, summed over every shopper.
    public var shopperSeconds: Double
    /// When the last request that failed was sent (seconds since the start), nil without errors: after an
    /// overload, how long the drop took to recover.
    public var lastErrorAt: Double?
    public var fifoViolations: Int
    public var configuredRate: Double
    public var entryRate: Double?
    public var entryRateErrorPercent: Double?
    public var entryRateWindow: [Double]?
    /// The most entries into checkout in any 3 s, per second (the worst burst checkout saw).
    public var worstThreeSecondEntryRate: Double?
    /// ETA honesty: shoppers admitted within the first range shown, overall, for those who first looked in
    /// the 10 s after opening (or resume), and during the ramp.
    public var etaOverall: ETAShare
    public var etaFirstTenSeconds: ETAShare
    public var etaDuringRamp: ETAShare?
    public var redisCommandsPerRequest: Double?
    public var redisMemoryFirstBytes: Int?
    public var redisMemoryPeakBytes: Int?
    /// Fitted Redis bytes per waiting shopper and per admitted shopper (see ``DropAnalysis/memoryPerShopper(_:)``).
    public var redisBytesPerWaitingShopper: Double?
    public var redisBytesPerAdmittedShopper: Double?
    /// The bot scenario: what the bots got, against what honest shoppers got.
    public struct Bots: Codable, Sendable, Equatable {
        public var attempts: Int
        public var clients: Int
        public var places: Int
        public var refused: [String: Int]
        public var proofsSolved: Int
        /// Of the first 1,000 places handed out (or all, when fewer), the share that bots took.
        public var shareOfFirstThousandPlaces: Double
    }

    public var bots: Bots?
    /// Server-side latency from the gates' own histograms (`/metrics`), without the load generator's queueing.
    public var serverSide: [String: Double] = [:]
    public var serverPeakRSSBytes: [String: Int]
    /// The README's capacity plan against this drop (when the gates' CPU and Redis were measured).
    public var capacity: CapacityCheck?
    /// Where Redis spent its time during the drop: `INFO commandstats` usec per command, summed over primaries.
    public var redisMicrosecondsByCommand: [String: Int]?
    public var samples: [DropSample]
    /// How the shoppers followed the queue (`board` or `status`).
    public var pollMode: String?
    /// Requests that reached the gates during the drop, by route (from their own counters; behind a cache,
    /// the board reads the cache answered are not here).
    public var gateRequests: [String: Int]?
    /// All of those per shopper per minute spent in the room (arrival to leaving).
    public var gateRequestsPerShopperMinute: Double?
    /// The same without joins and page loads (what shoppers send while they wait, their claims included):
    /// the issue's "gate requests per waiting shopper per minute".
    public var gateWaitingRequestsPerShopperMinute: Double?
    /// Board mode: the reader loops' board reads through the front, and those that failed (a page would
    /// have fallen back to asking the gate; here they are errors of the drop).
    public var boardReads: BoardReads?

    public struct BoardReads: Codable, Sendable, Equatable {
        public var ok: Int
        public var failed: Int
        /// When the last failed read was sent (seconds since the drop began).
        public var lastFailedAt: Double?

        public init(ok: Int, failed: Int, lastFailedAt: Double?) {
            self.ok = ok
            self.failed = failed
            self.lastFailedAt = lastFailedAt
        }
    }

    /// Checkout as the shoppers saw it (with an order service): latency, errors, orders per minute.
    public struct CheckoutFigures: Codable, Sendable, Equatable {
        public var count: Int
        public var p50Ms: Double
        public var p95Ms: Double
        public var errorRatio: Double
        /// Orders placed per minute, between the first and the last checkout.
        public var ordersPerMinute: Double
        /// Per 10 s of the drop: checkouts sent, their p95 and error ratio (how fast it backs off and recovers).
        public var windows: [Window]

        public struct Window: Codable, Sendable, Equatable {
            public var t: Double
            public var count: Int
            public var p95Ms: Double
            public var errorRatio: Double
        }

        public init?(_ checkouts: [DropSimulation.Checkout], windowSeconds: Double = 10) {
            guard !checkouts.isEmpty else { return nil }
            func p95(_ values: [Double]) -> Double {
                let sorted = values.sorted()
                return sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int((Double(sorted.count) * 0.95).rounded(.up)) - 1)] * 1_000
            }
            count = checkouts.count
            let sorted = checkouts.map(\.seconds).sorted()
            p50Ms = sorted[sorted.count / 2] * 1_000
            p95Ms = p95(sorted)
            let ok = checkouts.filter(\.ok)
            errorRatio = Double(checkouts.count - ok.count) / Double(checkouts.count)
            let span = (ok.map(\.at).max() ?? 0) - (ok.map(\.at).min() ?? 0)
            ordersPerMinute = span > 0 ? Double(ok.count) / span * 60 : Double(ok.count)
            let grouped = Dictionary(grouping: checkouts) { ($0.at / windowSeconds).rounded(.down) * windowSeconds }
            windows = grouped.keys.sorted().map { t in
                let group = grouped[t] ?? []
                return Window(t: t, count: group.count, p95Ms: p95(group.map(\.seconds)), errorRatio: Double(group.filter { !$0.ok }.count) / Double(max(group.count, 1)))
            }
        }
    }
    public var checkout: CheckoutFigures?

    /// Builds the report from the shoppers' (and bots') outcomes.
    public init(
        plan: DropPlan, outcomes: [DropSimulation.ShopperOutcome], bots: DropSimulation.BotOutcome = .init(), durationSeconds: Double,
        samples: [DropSample], redisCommands: Int?, requests: Int, serverPeakRSSBytes: [String: Int]
    ) {
        if plan.bots > 0 {
            self.bots = Bots(
                attempts: plan.bots, clients: plan.botClients, places: bots.seqs.count, refused: bots.refused, proofsSolved: bots.proofsSolved,
                shareOfFirstThousandPlaces: DropAnalysis.botShare(botSeqs: bots.seqs, honestSeqs: outcomes.compactMap(\.seq), first: 1_000)
            )
        }
        shoppers = plan.shoppers
        joined = outcomes.filter { $0.seq != nil }.count
        admitted = outcomes.filter { $0.admittedAt != nil }.count
        abandoned = outcomes.filter(\.abandoned).count
        expired = outcomes.filter(\.expired).count
        self.durationSeconds = durationSeconds
        join = Self.latency(outcomes.compactMap(\.joinLatency))
        status = Self.latency(outcomes.flatMap(\.statusLatencies))
        claim = Self.latency(outcomes.compactMap(\.claimLatency))
        timeToAdmissionSeconds = Self.latency(outcomes.compactMap { o in o.admittedAt.flatMap { a in o.joinedAt.map { (a - $0) } } }, scale: 1)
        arrivalToAdmissionSeconds = Self.latency(outcomes.compactMap { o in o.admittedAt.flatMap { a in o.arrivedAt.map { (a - $0) } } }, scale: 1)
        errors = outcomes.reduce(into: [:]) { total, outcome in
            for (kind, count) in outcome.errors { total[kind, default: 0] += count }
        }
        lastErrorAt = outcomes.compactMap(\.lastErrorAt).max()
        shopperSeconds = outcomes.reduce(0) { total, o in total + max(0, (o.leftAt ?? durationSeconds) - (o.arrivedAt ?? durationSeconds)) }
        var admissions: [Int64: Double] = [:]
        for outcome in outcomes { if let seq = outcome.seq, let at = outcome.admittedAt { admissions[seq] = at } }
        // A pre-queue is ordered by lottery, not by arrival: FIFO holds among those who joined after opening.
        let judged = plan.lottery ? outcomes.filter { ($0.joinedAt ?? 0) >= plan.openingSeconds } : outcomes
        let judgedSeqs = Set(judged.compactMap(\.seq))
        fifoViolations = DropAnalysis.fifoViolations(
            polls: judged.flatMap(\.polls), admissions: admissions.filter { judgedSeqs.contains($0.key) }, tolerance: 0.5
        )
        configuredRate = plan.rate
        let claims = outcomes.compactMap(\.admittedAt)
        if let window = DropAnalysis.measurementWindow(claimTimes: claims, claimWindowSeconds: plan.claimWindowSeconds, samples: samples, rate: plan.rate),
            let rate = DropAnalysis.entryRate(claimTimes: claims, from: window.from, to: window.to)
        {
            entryRate = rate
            entryRateErrorPercent = DropAnalysis.percentError(measured: rate, target: plan.rate)
            entryRateWindow = [window.from, window.to]
        }
        worstThreeSecondEntryRate = DropAnalysis.worstWindowRate(claimTimes: claims, window: 3)
        let shown = outcomes.compactMap { o in o.firstETA.flatMap { eta in o.admittedAt.map { (eta: eta, admittedAt: $0) } } }
        etaOverall = DropAnalysis.etaCoverage(shown)
        etaFirstTenSeconds = DropAnalysis.etaCoverage(shown, from: plan.openingSeconds, to: plan.openingSeconds + 10)
        etaDuringRamp = plan.rampSeconds.map { DropAnalysis.etaCoverage(shown, from: plan.openingSeconds, to: plan.openingSeconds + $0) }
        redisCommandsPerRequest = redisCommands.map { requests > 0 ? Double($0) / Double(requests) : 0 }
        redisMemoryFirstBytes = samples.first?.redisMemoryBytes
        redisMemoryPeakBytes = samples.compactMap(\.redisMemoryBytes).max()
        if let fit = DropAnalysis.memoryPerShopper(samples) {
            redisBytesPerWaitingShopper = fit.perWaiting
            redisBytesPerAdmittedShopper = fit.perAdmitted
        }
        self.serverPeakRSSBytes = serverPeakRSSBytes
        self.samples = samples
        pollMode = plan.pollMode.rawValue
        checkout = CheckoutFigures(outcomes.compactMap(\.checkout))
    }

    /// Records what reached the gates (counter differences over the drop).
    public mutating func recordGateRequests(_ requests: [String: Int]) {
        gateRequests = requests
        let total = requests.values.reduce(0, +)
        let waiting = total - (requests["join"] ?? 0) - (requests["page"] ?? 0)
        gateRequestsPerShopperMinute = shopperSeconds > 0 ? Double(total) / (shopperSeconds / 60) : nil
        gateWaitingRequestsPerShopperMinute = shopperSeconds > 0 ? Double(waiting) / (shopperSeconds / 60) : nil
    }

    /// Percentiles with HdrHistogram, recorded in microseconds (`scale` converts seconds to the unit shown).
    static func latency(_ seconds: [Double], scale: Double = 1_000) -> Latency {
        var histogram = Histogram<UInt64>(highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)
        for value in seconds { histogram.record(UInt64(max(0, value) * 1_000_000)) }
        func at(_ percentile: Double) -> Double {
            seconds.isEmpty ? 0 : Double(histogram.valueAtPercentile(percentile)) / 1_000_000 * scale
        }
        return Latency(count: seconds.count, p50Ms: at(50), p99Ms: at(99), p999Ms: at(99.9), maxMs: seconds.isEmpty ? 0 : Double(histogram.max) / 1_000_000 * scale)
    }

    /// A human summary.
    public var summary: String {
        func row(_ name: String, _ l: Latency, unit: String = "ms") -> String {
            String(format: "  %-18@ n=%-8d p50 %8.2f  p99 %8.2f  p99.9 %8.2f  max %8.2f %@", name as NSString, l.count, l.p50Ms, l.p99Ms, l.p999Ms, l.maxMs, unit as NSString)
        }
        var lines = [
            "drop: \(shoppers) shoppers, \(joined) joined, \(admitted) admitted, \(abandoned) abandoned, \(expired) saw their offer lapse, \(String(format: "%.1f", durationSeconds)) s",
            row("join", join), row("status", status), row("claim", claim), row("time to admission", timeToAdmissionSeconds, unit: "s"),
            row("arrival→admission", arrivalToAdmissionSeconds, unit: "s"),
            "  errors: " + (errors.isEmpty ? "none" : errors.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))
                + (lastErrorAt.map { String(format: " (the last sent at %.1f s)", $0) } ?? ""),
            "  FIFO violations: \(fifoViolations)",
        ]
        if let requests = gateRequests, let perMinute = gateRequestsPerShopperMinute {
            let split = requests.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            lines.append(String(format: "  requests that reached the gates (%@ mode): %.2f per shopper per minute in the room; %@", (pollMode ?? "status") as NSString, perMinute, split as NSString))
        }
        if let waiting = gateWaitingRequestsPerShopperMinute {
            lines.append(String(format: "  of which while waiting (not joins or pages): %.2f per shopper per minute", waiting))
        }
        if let boardReads {
            lines.append("  board reads by the simulator's readers: \(boardReads.ok) answered, \(boardReads.failed) failed" + (boardReads.lastFailedAt.map { String(format: " (the last sent at %.1f s)", $0) } ?? ""))
        }
        if let checkout {
            lines.append(String(
                format: "  checkout: n=%d p50 %.0f ms p95 %.0f ms, errors %.1f%%, %.0f orders/min; median wait (join→admission) %.1f s",
                checkout.count, checkout.p50Ms, checkout.p95Ms, checkout.errorRatio * 100, checkout.ordersPerMinute, timeToAdmissionSeconds.p50Ms))
            let rates = samples.compactMap { s in s.effectiveRate.map { (s.t, $0, s.rateReason ?? "") } }
            var timeline: [String] = []
            for window in checkout.windows {
                let rate = rates.last { $0.0 <= window.t + 10 }
                timeline.append(String(format: "%3.0fs: n=%d p95 %.0f ms err %.0f%%", window.t, window.count, window.p95Ms, window.errorRatio * 100)
                    + (rate.map { String(format: " rate %.1f (%@)", $0.1, $0.2 as NSString) } ?? ""))
            }
            lines.append("  checkout per 10 s: " + timeline.joined(separator: " | "))
        }
        if let entryRate, let error = entryRateErrorPercent, let window = entryRateWindow {
            lines.append(String(format: "  entry rate: %.2f /s against %.2f configured (%+.2f%%), measured %.0f–%.0f s", entryRate, configuredRate, error, window[0], window[1]))
        } else {
            lines.append("  entry rate: not measurable (less than 5 s between the first claim window and the queue running empty)")
        }
        if let worst = worstThreeSecondEntryRate {
            lines.append(String(format: "  worst 3 s entry rate: %.2f /s (%+.1f%% of the rate)", worst, DropAnalysis.percentError(measured: worst, target: configuredRate)))
        }
        func share(_ name: String, _ share: ETAShare) -> String {
            "  ETA held the real wait: \(share.covered) of \(share.total) \(name)" + (share.percent.map { String(format: " (%.1f%%)", $0) } ?? "")
        }
        lines.append(share("overall", etaOverall))
        lines.append(share("who first looked in the 10 s after opening", etaFirstTenSeconds))
        if let ramp = etaDuringRamp { lines.append(share("who first looked during the ramp", ramp)) }
        if let bots {
            let refused = bots.refused.isEmpty ? "none" : bots.refused.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
            lines.append(String(
                format: "  bots: %d joins from %d addresses took %d places (%.1f%% of the first 1,000); refused: %@; proofs solved: %d",
                bots.attempts, bots.clients, bots.places, bots.shareOfFirstThousandPlaces * 100, refused as NSString, bots.proofsSolved
            ))
        }
        if let cpu = simulatorCPUSeconds, let perCore = shoppersPerSimulatorCore {
            lines.append(String(format: "  simulator: %.1f s CPU for %.0f shopper-seconds: %.0f shoppers in the room per simulator core", cpu, shopperSeconds, perCore))
        }
        if let perRequest = redisCommandsPerRequest { lines.append(String(format: "  Redis commands per HTTP request: %.3f", perRequest)) }
        if let first = redisMemoryFirstBytes, let peak = redisMemoryPeakBytes {
            lines.append(String(format: "  Redis memory: %.2f MiB at start, %.2f MiB peak", Double(first) / 1_048_576, Double(peak) / 1_048_576))
        }
        if let waiting = redisBytesPerWaitingShopper, let admitted = redisBytesPerAdmittedShopper {
            lines.append(String(format: "  Redis bytes per waiting shopper: %.1f; per admitted shopper (admission record until its session ends): %.0f", waiting, admitted))
        }
        for (name, value) in serverSide.sorted(by: { $0.key < $1.key }) {
            lines.append(String(format: "  server-side %@: %.2f ms", name as NSString, value))
        }
        for (server, rss) in serverPeakRSSBytes.sorted(by: { $0.key < $1.key }) {
            lines.append(String(format: "  server %@ peak RSS: %.1f MiB", server as NSString, Double(rss) / 1_048_576))
        }
        if let capacity { lines += capacity.summary }
        if let spent = redisMicrosecondsByCommand, !spent.isEmpty {
            let top = spent.sorted { $0.value > $1.value }.prefix(4).map { String(format: "%@ %.2f s", $0.key as NSString, Double($0.value) / 1e6) }
            lines.append("    Redis time by command: " + top.joined(separator: ", "))
        }
        return lines.joined(separator: "\n")
    }
}
