import Foundation

/// How much to scale before a drop: the capacity model (README "Capacity plan") applied to one drop, for the
/// pre-scale hooks (`room.opening_soon`, `room.prescale`) and `waitroom plan`.
///
/// The drop is a pre-queue of `prequeue` shoppers released at opening plus `arrivals` more arriving over
/// `windowSeconds` (joins peak at three times their average, as measured drops did), admitted at `rate` a
/// second. Peaks are added (an upper bound: the opening burst, the join peak and the longest queue are
/// near each other in a drop). Per-request costs are the README's, measured on a 2-core host: a board read
/// or page load is priced like the gate's cheapest answer (152 µs), a status call (each pre-queued shopper
/// makes one at opening, within a board read, to learn its drawn place; no Redis) as a poll (200 µs), a join,
/// claim, consume or release as a join (235 µs); the model's gate CPU is then sized ×1.5 (what a four-gate drop measured above it) at ≤ 70%.
///
/// ```swift
/// let plan = PrescalePlan(drop: .init(prequeue: 0, arrivals: 1_000_000, windowSeconds: 120, rate: 1_000))
/// plan.recommendation.gateInstances   // 2-core gates to run
/// ```
public struct PrescalePlan: Sendable, Equatable {
    public struct Drop: Sendable, Equatable, Codable {
        /// Shoppers waiting in the pre-queue at opening.
        public var prequeue: Double
        /// Shoppers arriving after opening, within `windowSeconds`.
        public var arrivals: Double
        public var windowSeconds: Double
        /// The room's admission rate (shoppers a second into checkout).
        public var rate: Double
        public var rampSeconds: Double
        public var claimWindowSeconds: Double
        public var sessionTTLSeconds: Double
        /// How often a waiting page reads the board (the gate's `readAfterMs`).
        public var readAfterSeconds: Double
        /// Without a cache, the board reads a gate answers per room before it stretches the pages' interval
        /// (`WAITROOM_BOARD_READS_PER_SECOND`, ``BoardPacing``), up to the status poll's ceiling.
        public var boardReadsPerSecond: Double
        /// Shared cache nodes in front of the gates (CDN shield POPs, nginx microcaches): with a cache, each
        /// reaches the gate about once a second per room for the board, whatever the number of shoppers.
        public var cacheNodes: Double

        public init(
            prequeue: Double, arrivals: Double, windowSeconds: Double, rate: Double, rampSeconds: Double = 0, claimWindowSeconds: Double = 60,
            sessionTTLSeconds: Double = 900, readAfterSeconds: Double = 2, cacheNodes: Double = 10, boardReadsPerSecond: Double = 200
        ) {
            self.prequeue = max(0, prequeue)
            self.arrivals = max(0, arrivals)
            self.windowSeconds = max(1, windowSeconds)
            self.rate = max(0, rate)
            self.rampSeconds = max(0, rampSeconds)
            self.claimWindowSeconds = claimWindowSeconds
            self.sessionTTLSeconds = sessionTTLSeconds
            self.readAfterSeconds = max(0.5, readAfterSeconds)
            self.cacheNodes = max(1, cacheNodes)
            self.boardReadsPerSecond = max(1, boardReadsPerSecond)
        }
    }

    /// What a pre-scale hook carries (`recommendation`), and what `waitroom plan` prints.
    public struct Recommendation: Sendable, Equatable, Codable {
        public var shoppersPrequeued: Int64
        public var expectedArrivalsFirstTwoMinutes: Int64
        /// Where that number came from: "previous drop", "pre-queue growth" or "given".
        public var arrivalsSource: String
        public var peakJoinsPerSecond: Int64
        public var peakWaiting: Int64
        /// Origin requests a second at the peak: every board read reaches the gates / a shared cache answers them.
        public var originRequestsPerSecond: Int64
        /// Without a cache, how often a waiting page reads the board at the peak: the gates' pacing stretches
        /// it past `readAfterSeconds` once the reads pass their budget.
        public var boardReadSecondsUncached: Double
        public var originRequestsPerSecondCached: Int64
        public var gateCores: Double
        public var gateCoresCached: Double
        /// 2-core gates, at least 2 (one per zone).
        public var gateInstances: Int
        public var gateInstancesCached: Int
        public var redisOpsPerSecond: Int64
        public var redisCores: Double
        public var redisMemoryMB: Double
        /// Shoppers a second checkout will see (the rate after the ramp, or fewer when fewer come), how long the ramp takes, how long until the
        /// last shopper now expected is admitted (nil at rate 0).
        public var checkoutAdmissionsPerSecond: Double
        public var checkoutRampSeconds: Int64
        public var drainMinutes: Double?
        public var cacheNodes: Int
    }

    public static let microsecondsPerCheapRequest = 152.0
    public static let microsecondsPerPoll = 200.0
    public static let microsecondsPerScript = 235.0
    public static let redisMicrosecondsPerAdmission = 600.0
    public static let redisCommandsPerScript = 3.0
    public static let bytesPerAdmission = 350.0
    public static let bytesPerAdmissionRecord = 100.0
    public static let bytesPerRoomSeries = 5_400_000.0
    public static let coresPerGate = 2.0

    public var drop: Drop
    public var arrivalsSource: String
    public var recommendation: Recommendation

    public init(drop: Drop, arrivalsSource: String = "given") {
        self.drop = drop
        self.arrivalsSource = arrivalsSource
        let total = drop.prequeue + drop.arrivals
        let peakJoins = 3 * drop.arrivals / drop.windowSeconds
        let waiting = max(0, total - drop.rate * drop.windowSeconds)
        // The pre-queue learns its drawn places with one status call each at opening, within a board read.
        let opening = drop.prequeue / drop.readAfterSeconds
        // Shoppers are admitted at the rate, or as fast as they come when fewer come than the rate lets in.
        let admitting = min(drop.rate, max(peakJoins, opening))
        let scripts = peakJoins + 3 * admitting  // joins (at most one script each), claims, consume + release
        func cores(_ cheap: Double) -> Double {
            (cheap * Self.microsecondsPerCheapRequest + opening * Self.microsecondsPerPoll + scripts * Self.microsecondsPerScript) / 1_000_000
        }
        func instances(_ cores: Double) -> Int { max(2, Int((cores * 1.5 / 0.7 / Self.coresPerGate).rounded(.up))) }
        // Without a cache each gate paces the board: pages read every `readAfterSeconds` until the reads pass
        // the gates' budget together, then slower, never slower than the status poll's ceiling. More gates
        // allow more reads, so settle the gate count (each gate's budget costs a thirtieth of a core).
        let ceiling = Double(RoomBoard.readInterval(Int.max / 2, claimWindowSeconds: Int(drop.claimWindowSeconds))) / 1000
        func boardInterval(gates: Int) -> Double {
            max(drop.readAfterSeconds, min(ceiling, waiting / (drop.boardReadsPerSecond * Double(gates))))
        }
        var gates = 2
        for _ in 0..<16 {
            let next = instances(cores(peakJoins + waiting / boardInterval(gates: gates)))
            if next == gates { break }
            gates = next
        }
        let uncachedInterval = boardInterval(gates: gates)
        let uncachedCheap = peakJoins + waiting / uncachedInterval  // page loads, board reads
        let cachedCheap = min(uncachedCheap, 2 * drop.cacheNodes)  // page and board, at most once a second per cache node
        let gateCores = cores(uncachedCheap)
        let gateCoresCached = cores(cachedCheap)
        gates = instances(gateCores)
        let inSession = min(total, drop.rate * drop.sessionTTLSeconds)
        recommendation = Recommendation(
            shoppersPrequeued: Int64(drop.prequeue.rounded()), expectedArrivalsFirstTwoMinutes: Int64((drop.arrivals * min(1, 120 / drop.windowSeconds)).rounded()),
            arrivalsSource: arrivalsSource, peakJoinsPerSecond: Int64(peakJoins.rounded()), peakWaiting: Int64(waiting.rounded()),
            originRequestsPerSecond: Int64((uncachedCheap + opening + scripts).rounded()),
            boardReadSecondsUncached: (uncachedInterval * 10).rounded() / 10,
            originRequestsPerSecondCached: Int64((cachedCheap + opening + scripts).rounded()),
            gateCores: (gateCores * 10).rounded() / 10, gateCoresCached: (gateCoresCached * 10).rounded() / 10,
            gateInstances: gates, gateInstancesCached: instances(gateCoresCached),
            redisOpsPerSecond: Int64((Self.redisCommandsPerScript * scripts + 10 * Double(gates)).rounded()),
            redisCores: (admitting * Self.redisMicrosecondsPerAdmission / 1_000_000 * 100).rounded() / 100,
            redisMemoryMB: ((inSession * Self.bytesPerAdmission + total * Self.bytesPerAdmissionRecord + Self.bytesPerRoomSeries) / 100_000).rounded() / 10,
            checkoutAdmissionsPerSecond: (admitting * 10).rounded() / 10, checkoutRampSeconds: Int64(drop.rampSeconds),
            drainMinutes: drop.rate > 0 ? (total / drop.rate / 6).rounded() / 10 : nil, cacheNodes: Int(drop.cacheNodes)
        )
    }

    /// The plan from a pre-scale signal (what the tick records at each lead, see ``Signal``): the pre-queue
    /// projected to opening at its growth, and the first two minutes' arrivals from the room's previous drop
    /// (scaled by how this pre-queue compares with that one's) or, without one, the larger of the projected
    /// pre-queue and two minutes at its growth.
    public init(signal: Signal, readAfterSeconds: Double = 2, cacheNodes: Double = 10) {
        let secondsToOpening = max(0, Double(signal.opensAt) / 1000 - Double(signal.atMs) / 1000)
        let prequeue = Double(signal.waiting) + max(0, signal.growthPerSecond) * secondsToOpening
        let arrivals: Double
        let source: String
        if signal.previousArrivals2m >= 0 {
            let scale = signal.previousPrequeue > 0 ? prequeue / Double(signal.previousPrequeue) : 1
            arrivals = Double(signal.previousArrivals2m) * (scale > 0 ? scale : 1)
            source = "previous drop"
        } else {
            arrivals = max(prequeue, max(0, signal.growthPerSecond) * 120)
            source = "pre-queue growth"
        }
        self.init(
            drop: Drop(
                prequeue: prequeue, arrivals: arrivals, windowSeconds: 120, rate: signal.rate, rampSeconds: signal.rampSeconds,
                claimWindowSeconds: signal.claimWindowSeconds, sessionTTLSeconds: signal.sessionTTLSeconds, readAfterSeconds: readAfterSeconds,
                cacheNodes: cacheNodes
            ),
            arrivalsSource: source
        )
    }

    /// The data of a `room.opening_soon` / `room.prescale` event as the tick records it.
    public struct Signal: Sendable, Equatable, Codable {
        public var opensAt: Int64
        public var leadSeconds: Int64
        public var waiting: Int64
        public var growthPerSecond: Double
        public var rate: Double
        public var rampSeconds: Double
        public var claimWindowSeconds: Double
        public var sessionTTLSeconds: Double
        /// The previous drop's pre-queue and joins in its first two minutes; -1 when there was none.
        public var previousPrequeue: Int64
        public var previousArrivals2m: Int64
        /// When the signal was made (the event's time), unix ms; not part of the event's data.
        public var atMs: Int64 = 0

        enum CodingKeys: String, CodingKey {
            case opensAt, leadSeconds, waiting, growthPerSecond, rate, rampSeconds, claimWindowSeconds, sessionTTLSeconds, previousPrequeue, previousArrivals2m
        }
    }

    /// The recommendation as a table (`waitroom plan`), one row per figure.
    public var table: [String] {
        let r = recommendation
        func n(_ value: Int64) -> String { value.formatted(.number.grouping(.automatic)) }
        func d(_ value: Double) -> String { value.isFinite ? String(format: "%.1f", value) : "∞" }
        let rows: [(String, String, String)] = [
            ("shoppers pre-queued", n(r.shoppersPrequeued), ""),
            ("expected arrivals, first 2 min", n(r.expectedArrivalsFirstTwoMinutes), r.arrivalsSource),
            ("peak joins/s", n(r.peakJoinsPerSecond), "3 × the average over the window"),
            ("peak waiting", n(r.peakWaiting), "everyone arrived, window × rate admitted"),
            ("origin requests/s, no cache", n(r.originRequestsPerSecond),
             String(format: "board every %.1f s per waiting shopper (paced: %.0f/s per gate)", r.boardReadSecondsUncached, drop.boardReadsPerSecond)),
            ("origin requests/s, cached", n(r.originRequestsPerSecondCached), "\(r.cacheNodes) cache nodes × 1/s; joins and claims pass"),
            ("gate cores, no cache", d(r.gateCores), "\(r.gateInstances) × 2-core gates (×1.5, ≤ 70% CPU)"),
            ("gate cores, cached", d(r.gateCoresCached), "\(r.gateInstancesCached) × 2-core gates"),
            ("Redis ops/s", n(r.redisOpsPerSecond), "~3 commands per script; ticks 10/s per gate"),
            ("Redis CPU (cores)", String(format: "%.2f", r.redisCores), r.redisCores > 0.7 ? "more than one primary carries: split into rooms on a Cluster" : "one primary"),
            ("Redis memory (MB)", d(r.redisMemoryMB), "350 B per admission in session, 100 B per shopper for 24 h"),
            ("checkout admissions/s", d(r.checkoutAdmissionsPerSecond), r.checkoutRampSeconds > 0 ? "after a \(r.checkoutRampSeconds) s ramp" : "from opening"),
            ("drain (minutes)", r.drainMinutes.map(d) ?? "never (rate 0)", "until the last expected shopper is admitted"),
        ]
        let width = rows.map { $0.0.count }.max() ?? 0
        let valueWidth = rows.map { $0.1.count }.max() ?? 0
        return rows.map { row in
            row.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                + String(repeating: " ", count: valueWidth - row.1.count) + row.1 + (row.2.isEmpty ? "" : "  " + row.2)
        }
    }
}
